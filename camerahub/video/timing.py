"""Where a session's segments lie on the UTC wall clock.

Both timelines map stream time (pts) to UTC from one anchor, in whole milliseconds, so that
consecutive segments abut exactly (start + duration == next start), and both are told each
packet (`packet`), each segment start (`open`) and each segment end (`close`, which places
the segment). They differ in what the wall clock means.

`ReceiptTimeline` is for live sources (a camera over RTSP): a segment's start is the wall
clock at receipt of its first packet. The receipt of packets read after a buffered burst is
not when they are read: opening an RTSP input reads about 1.7 s of packets before the first
one is handed over (FFmpeg's stream probing), a busy recorder reads late, and FFmpeg's
H.264 parser hands over each frame only when the next one begins, one frame interval after
it arrived (the segmenter passes that as `held_ms`). Every packet
read gives an upper bound for the anchor (read time minus stream time since the anchor),
so the anchor is the smallest of them, never before the session was opened (nothing can
arrive before we connect) nor before the previous segment ended; it is settled when the
first segment is placed, and consecutive segments then follow by stream time. It then moves
only on real drift: when every packet of a segment arrived more than `drift_threshold_s`
after its stream time says (the camera lost time: a gap), or when packets arrive before it
(its clock runs fast: the segment is shortened to end at its receipt, so the next abuts).
A segment whose stream time claims more than the wall-clock time in which it was received
(beyond `tolerance_s` + `tolerance_ratio`) is refused: ImplausibleTiming.

`FileTimeline` is for sources read faster than real time (files, test servers): the anchor
is the wall clock when the first packet is read, renewed at a segment start when stream
time and wall clock disagree by more than `drift_threshold_s`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from camerahub.video.errors import ImplausibleTiming

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
Clock = Callable[[], datetime]


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the Unix epoch (floored), exactly."""
    return (moment - _EPOCH) // _MS


def from_epoch_ms(value: int) -> datetime:
    """The UTC datetime of milliseconds since the Unix epoch."""
    return _EPOCH + timedelta(milliseconds=value)


@dataclass(frozen=True)
class Placement:
    """Where a finished segment lies: its start and its duration in milliseconds."""

    start: datetime
    duration_ms: int

    @property
    def end(self) -> datetime:
        """Where the next segment of the same anchor starts."""
        return self.start + timedelta(milliseconds=self.duration_ms)


class _Anchor:
    """Stream time to wall-clock milliseconds: `wall_ms` is the time of `pts`."""

    def __init__(self, wall_ms: int, pts: int, time_base: Fraction) -> None:
        self.wall_ms, self.pts, self.time_base = wall_ms, pts, time_base
        # integers: this runs for every packet of every camera, and Fraction is slow
        self._num, self._den = time_base.numerator * 1000, time_base.denominator

    def offset_ms(self, pts: int) -> int:
        """Milliseconds of stream time from the anchor to pts (rounded once per pts, half
        to even, exactly as round() of the Fraction)."""
        q, r = divmod((pts - self.pts) * self._num, self._den)
        twice = 2 * r
        if twice > self._den or (twice == self._den and q & 1):
            q += 1
        return q

    def at(self, pts: int) -> int:
        """The wall-clock milliseconds of a stream timestamp."""
        return self.wall_ms + self.offset_ms(pts)


@dataclass
class _Receipt:
    """What the packets of one segment showed: when they were read, against their claims."""

    recv_from: int  # when its first packet may have arrived: the previous read, or the floor
    read_last: int = 0
    lag_min: int | None = None  # smallest (read - claimed time) of its packets


class ReceiptTimeline:
    """Live sources: segment times are the wall clock at receipt (see the module text)."""

    def __init__(self, time_base: Fraction, clock: Clock, drift_threshold_s: float | None,
                 tolerance_s: float = 0.5, tolerance_ratio: float = 0.05,
                 slack_ms: int = 50) -> None:
        self.time_base, self.clock = time_base, clock
        self.drift_ms = None if drift_threshold_s is None else round(drift_threshold_s * 1000)
        self.tolerance_ms, self.tolerance_ratio = round(tolerance_s * 1000), tolerance_ratio
        self.slack_ms = slack_ms  # read jitter below this never moves the anchor
        self.anchor: _Anchor | None = None
        self.settled = False  # the anchor was refined by a placed segment
        self.anchor_lag = 0  # smallest (read - claimed time) since the anchor was set
        self.floor = 0  # nothing anchored may lie before this (session open, last end)
        self.prev_read = 0
        self.segment: _Receipt | None = None

    @property
    def anchored(self) -> bool:
        """Whether stream time is tied to the wall clock (else the next packet ties it)."""
        return self.anchor is not None

    def begin(self, opened_at: datetime, last_end: datetime | None) -> None:
        """A new session, opened at `opened_at`, after footage that ended at `last_end`."""
        self.floor = max(epoch_ms(opened_at), epoch_ms(last_end) if last_end else 0)
        self.prev_read = self.floor
        self._unanchor()

    def restart(self, last_end: datetime | None) -> None:
        """A timestamp discontinuity: anchor again from the next packet, after last_end."""
        if last_end is not None:
            self.floor = max(self.floor, epoch_ms(last_end))
        self._unanchor()

    def _unanchor(self) -> None:
        self.anchor, self.settled, self.anchor_lag, self.segment = None, False, 0, None

    def packet(self, pts: int, held_ms: int = 0) -> None:
        """A packet was read now, after the demuxer held it for held_ms: note its receipt."""
        read = epoch_ms(self.clock()) - held_ms
        if self.anchor is None:
            self.anchor = _Anchor(max(read, self.floor), pts, self.time_base)
        lag = read - self.anchor.at(pts)
        if not self.settled:
            self.anchor_lag = min(self.anchor_lag, lag)
        if self.segment is not None:
            seg = self.segment
            seg.lag_min = lag if seg.lag_min is None else min(seg.lag_min, lag)
            seg.read_last = read
        self.prev_read = read

    def open(self, pts: int, held_ms: int = 0) -> datetime:
        """A segment begins with the packet at pts (read now); its provisional start.

        close() settles it; the provisional start is what a crash leaves in the spool, so
        it already takes the receipt shown by the packets so far into account.
        """
        self.segment = _Receipt(recv_from=self.prev_read)
        self.packet(pts, held_ms)
        start = self.anchor.at(pts)
        if not self.settled:
            start += max(self.anchor_lag, self.floor - self.anchor.wall_ms)
        return from_epoch_ms(start)

    def close(self, start_pts: int, last_pts: int, end_pts: int) -> Placement:
        """Place the open segment (first packet start_pts, last last_pts, ending end_pts).

        Raises ImplausibleTiming when its stream time claims more than it took to receive.
        """
        seg, anchor = self.segment, self.anchor
        self.segment = None
        media = anchor.offset_ms(end_pts) - anchor.offset_ms(start_pts)
        self._move(self._shift(seg))
        start = anchor.at(start_pts)
        received = seg.read_last - min(seg.recv_from, start)
        if media > received * (1 + self.tolerance_ratio) + self.tolerance_ms:
            raise ImplausibleTiming(f"segment claims {media} ms of stream time but was "
                                    f"received in {received} ms")
        ahead = start + media - (seg.read_last + anchor.offset_ms(end_pts)
                                 - anchor.offset_ms(last_pts))
        duration = media
        if ahead > self.slack_ms:
            # It ends after its last packet arrived: the camera's clock runs fast, or the
            # anchor was read late. End it at receipt; the next segment abuts.
            cut = min(ahead, media - 1)
            duration -= cut
            self._move(-cut)
        self.settled = True
        self.floor = max(self.floor, start + duration)
        return Placement(from_epoch_ms(start), duration)

    def drop(self) -> None:
        """The open segment is dropped unplaced (it kept no frame)."""
        self.segment = None

    def _shift(self, seg: _Receipt) -> int:
        """How far the anchor moves before this segment is placed."""
        if not self.settled:
            # The earliest receipt any packet since the anchor allows, but not before the
            # session opened or the previous footage ended.
            return max(self.anchor_lag, self.floor - self.anchor.wall_ms)
        if self.drift_ms is not None and seg.lag_min is not None and seg.lag_min > self.drift_ms:
            log.warning("every packet of a segment arrived %d ms late or more: stream time "
                        "lost; re-anchoring", seg.lag_min)
            return seg.lag_min
        return 0

    def _move(self, shift_ms: int) -> None:
        """Move the anchor (a later wall-clock time for the same stream time when > 0)."""
        self.anchor.wall_ms += shift_ms


class FileTimeline:
    """Sources read faster than real time: the wall clock when the first packet is read."""

    def __init__(self, time_base: Fraction, clock: Clock,
                 drift_threshold_s: float | None) -> None:
        self.time_base, self.clock = time_base, clock
        self.drift_threshold_s = drift_threshold_s
        self.anchor: _Anchor | None = None
        self.first_seen: tuple[int, int] | None = None  # (wall ms, pts) of the first packet

    @property
    def anchored(self) -> bool:
        """Whether stream time is tied to the wall clock (else the next segment ties it)."""
        return self.anchor is not None

    def begin(self, opened_at: datetime | None, last_end: datetime | None) -> None:
        """A new session (times are taken when packets are read)."""
        self.restart(last_end)

    def restart(self, last_end: datetime | None) -> None:
        """Anchor again from the next packet."""
        self.anchor = self.first_seen = None

    def packet(self, pts: int, held_ms: int = 0) -> None:
        """Remember when the first packet after (re)anchoring was read."""
        if self.anchor is None and self.first_seen is None:
            self.first_seen = (epoch_ms(self.clock()), pts)

    def open(self, pts: int, held_ms: int = 0) -> datetime:
        """A segment begins at pts: anchor, or re-anchor on drift; its start."""
        if self.anchor is None:
            self.packet(pts)
            wall, first_pts = self.first_seen
            self.anchor, self.first_seen = _Anchor(wall, first_pts, self.time_base), None
        else:
            now = epoch_ms(self.clock())
            if self._drifted(now, pts):
                self.anchor = _Anchor(now, pts, self.time_base)
        return from_epoch_ms(self.anchor.at(pts))

    def close(self, start_pts: int, last_pts: int, end_pts: int) -> Placement:
        """Place a segment by stream time from the anchor."""
        anchor = self.anchor
        duration = anchor.offset_ms(end_pts) - anchor.offset_ms(start_pts)
        return Placement(from_epoch_ms(anchor.at(start_pts)), duration)

    def drop(self) -> None:
        """The open segment is dropped unplaced (nothing to forget: files are placed by
        stream time alone)."""

    def _drifted(self, now_ms: int, pts: int) -> bool:
        """Whether stream time and wall clock disagree by more than the threshold."""
        if self.drift_threshold_s is None:
            return False
        drift = (now_ms - self.anchor.at(pts)) / 1000
        if abs(drift) <= self.drift_threshold_s:
            return False
        log.warning("clock drift %.3f s; re-anchoring", drift)
        return True
