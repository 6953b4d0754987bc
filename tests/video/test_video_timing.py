"""ReceiptTimeline on its own: segment times are receipt times, and the anchor moves only on
real drift. Packets are scripted (stream time, arrival, read), no network and no PyAV."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from camerahub.video.errors import ImplausibleTiming
from camerahub.video.timing import ReceiptTimeline, epoch_ms

TB = Fraction(1, 90_000)
FPS = 15
TICKS = 90_000 // FPS
FRAME_MS = 1000 / FPS
T0 = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
GOP = 15
SEGMENT = 150  # frames: 10 s segments cut on a keyframe


class Script:
    """A clock that returns, for each packet in turn, the time it is read."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def record(arrivals: list[float], pts_of=lambda n: n * TICKS, reads=None, opened_at_s=0.0,
           drift_s=2.0):
    """Feed frames arriving at arrivals[n] (s after T0), read at reads[n] (default: when
    the next frame arrives, as FFmpeg's parser hands a frame over); return placements."""
    clock = Script()
    timeline = ReceiptTimeline(TB, clock, drift_s)
    timeline.begin(T0 + timedelta(seconds=opened_at_s), None)
    reads = reads or [a + FRAME_MS / 1000 for a in arrivals]
    placed, start = [], None
    for n, read in enumerate(reads):
        clock.now = T0 + timedelta(seconds=read)
        if n % SEGMENT == 0:
            if start is not None:
                placed.append(timeline.close(pts_of(start), pts_of(n - 1), pts_of(n)))
            start = n
            timeline.open(pts_of(n), round(FRAME_MS))
        else:
            timeline.packet(pts_of(n), round(FRAME_MS))
    return placed


def live(frames: int, first_s: float = 0.5) -> list[float]:
    """Arrival times of frames a camera sends in real time from first_s on."""
    return [first_s + n / FPS for n in range(frames)]


def ms_after_t0(moment: datetime) -> int:
    return epoch_ms(moment) - epoch_ms(T0)


def assert_abut(placed) -> None:
    for a, b in zip(placed, placed[1:]):
        assert a.end == b.start


def test_a_buffered_burst_at_open_does_not_make_times_late():
    """Opening an RTSP input hands over its first 1.7 s of packets at once: the segment
    still starts when its first packet arrived, not when it was read."""
    arrivals = live(4 * SEGMENT + 1)
    reads = [max(a + FRAME_MS / 1000, 0.5 + 1.733) for a in arrivals]  # the burst
    placed = record(arrivals, reads=reads)
    assert abs(ms_after_t0(placed[0].start) - 500) <= 1
    assert [p.duration_ms for p in placed] == [10_000] * 4
    assert_abut(placed)


def test_read_jitter_moves_nothing():
    rng = random.Random(7)
    arrivals = live(6 * SEGMENT + 1)
    delayed = [a + FRAME_MS / 1000 + rng.uniform(0, 0.4) for a in arrivals]
    reads = [max(delayed[: n + 1]) for n in range(len(delayed))]  # read in order
    placed = record(arrivals, reads=reads)
    assert 499 <= ms_after_t0(placed[0].start) <= 500 + 20
    assert [p.duration_ms for p in placed] == [10_000] * 6
    assert_abut(placed)


def test_stream_time_lost_by_the_camera_is_real_drift_and_leaves_a_gap():
    """The camera stalls 3 s mid-stream and goes on with continuous timestamps: every
    packet after that arrives 3 s later than stream time says."""
    arrivals = [a + (3.0 if n >= 2 * SEGMENT + 40 else 0) for n, a in
                enumerate(live(5 * SEGMENT + 1))]
    placed = record(arrivals)
    assert_abut(placed[:2])
    gap = placed[3].start - placed[2].end
    assert timedelta(seconds=2.9) <= gap <= timedelta(seconds=3.1)
    assert abs(ms_after_t0(placed[3].start) - round(arrivals[3 * SEGMENT] * 1000)) <= 5
    assert_abut(placed[3:])


def test_a_short_camera_hiccup_is_not_drift():
    arrivals = [a + (1.0 if 2 * SEGMENT + 40 <= n < 2 * SEGMENT + 60 else 0)
                for n, a in enumerate(live(5 * SEGMENT + 1))]
    reads = [max(arrivals[: n + 1]) + FRAME_MS / 1000 for n in range(len(arrivals))]
    placed = record(arrivals, reads=reads)  # TCP delivers the late frames in order
    assert [p.duration_ms for p in placed] == [10_000] * 5
    assert_abut(placed)


def test_a_fast_camera_clock_is_corrected_by_ending_segments_at_receipt():
    """Stream time runs 0.5 % fast: segments never claim to end after their last packet
    arrived (beyond a frame and the jitter slack), and still abut."""
    arrivals = live(12 * SEGMENT + 1)
    placed = record(arrivals, pts_of=lambda n: round(n * TICKS * 1.005))
    assert_abut(placed)
    for k, placement in enumerate(placed):
        last_arrival = arrivals[(k + 1) * SEGMENT - 1]
        assert ms_after_t0(placement.end) <= round(last_arrival * 1000) + FRAME_MS + 50 + 1
    assert min(p.duration_ms for p in placed) >= 9_950


def test_stream_time_racing_ahead_of_the_wall_clock_is_refused():
    with pytest.raises(ImplausibleTiming, match="claims"):
        record(live(SEGMENT + 1), pts_of=lambda n: n * 2 * 90_000)  # 2 s per frame


def test_a_later_segment_claiming_more_than_it_took_to_arrive_is_refused():
    arrivals = live(2 * SEGMENT + 1)
    fast = arrivals[:SEGMENT] + [arrivals[SEGMENT] + (n - SEGMENT) * 0.02
                                 for n in range(SEGMENT, 2 * SEGMENT + 1)]
    with pytest.raises(ImplausibleTiming):
        record(fast)  # the second 10 s of stream arrive in 3 s


def test_nothing_is_placed_before_the_session_was_opened():
    """A camera that sends 2 s of old frames at once on connect: they arrived after we
    connected, and the segment says so (and is refused only if it claims too much)."""
    arrivals = [max(a - 2.0, 0.0) for a in live(SEGMENT + 1, first_s=0.2)]
    reads = [a + FRAME_MS / 1000 for a in arrivals]
    with pytest.raises(ImplausibleTiming):
        record(arrivals, reads=reads, opened_at_s=0.0)
    placed = record(live(2 * SEGMENT + 1, first_s=0.2), opened_at_s=0.3)
    assert ms_after_t0(placed[0].start) >= 300
