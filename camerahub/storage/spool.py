"""The local spool between the segmenter and the uploader: its queue, alarm and recovery.

The files themselves (names, sidecars, directories, commit, fsyncs) belong to
camerahub.storage.spoolfiles; this module decides what happens to them: ready segments
are listed oldest first and removed after a verified upload, the size limit only raises
an alarm, and after a crash leftovers are finalized or quarantined. Nothing here ever
deletes a segment except after a verified upload.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from camerahub.storage.base import file_sha256
from camerahub.storage.spoolfiles import (
    INCOMING,
    OPEN_SUFFIX,
    QUARANTINE,
    READY,
    SEGMENT_SUFFIXES,
    TEMP_GLOB,
    TS_PACKET,
    OpenSidecar,
    SpoolItem,
    SpoolSink,
    declared_sha256,
    ensure_dirs,
    finish_commit,
    is_segment,
    move_to_quarantine,
    publish,
    remove_ready,
    segment_for,
    sidecar_of,
    split_tail,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpoolAlarm:
    """The spool crossed its size limit (`over_limit`) or fell back below it (`recovered`);
    its disk refused a write (`disk_full`) or took one again after that (`disk_recovered`)."""

    state: str
    bytes: int
    limit: int


@dataclass
class RecoveryReport:
    """What recover() did with the leftovers of a previous run."""

    finalized: list[Path] = field(default_factory=list)
    quarantined: list[Path] = field(default_factory=list)
    trimmed: list[Path] = field(default_factory=list)  # tails cut off finalized segments
    requeued: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


class Spool:
    """The spool directories, their size alarm and restart recovery."""

    def __init__(
        self,
        root: Path | str,
        limit_bytes: int | None = None,
        on_alarm: Callable[[SpoolAlarm], None] | None = None,
        rescan_interval_s: float = 10.0,
    ) -> None:
        self.root = Path(root)
        self.limit_bytes, self.on_alarm = limit_bytes, on_alarm
        self.rescan_interval_s = rescan_interval_s
        self._alarmed = False
        self._disk_full = False
        self._estimate: int | None = None
        self._scanned_at = 0.0
        self._lock = threading.Lock()
        ensure_dirs(self.root)

    @property
    def incoming(self) -> Path:
        """Where segments are written."""
        return self.root / INCOMING

    @property
    def ready(self) -> Path:
        """Where finished segments wait for upload."""
        return self.root / READY

    @property
    def quarantine_dir(self) -> Path:
        """Where unplayable or conflicting segments are kept for a human."""
        return self.root / QUARANTINE

    def sink(self) -> SpoolSink:
        """What a segmenter writes this spool through (camerahub.video.SegmentSink)."""
        return SpoolSink(self.root)

    def ready_items(self) -> list[SpoolItem]:
        """Finished segments with a readable sidecar, oldest first."""
        items = []
        for segment in self._ready_segments():
            item = self.load(segment)
            if item is not None:
                items.append(item)
        return sorted(items, key=lambda item: item.sort_key)

    def _ready_segments(self) -> list[Path]:
        """Segment files in ready/ (not sidecars or temp files)."""
        return [p for p in self.ready.iterdir() if is_segment(p)]

    def load(self, segment: Path) -> SpoolItem | None:
        """Load one ready segment's item, or None if it has no usable sidecar."""
        try:
            return SpoolItem.from_sidecar(sidecar_of(segment), segment)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.error("unusable sidecar for %s: %s", segment, exc)
            return None

    def remove(self, item: SpoolItem) -> None:
        """Delete an uploaded segment (call only after a verified upload)."""
        remove_ready(item.path)
        self.check_limit(-item.bytes)

    def quarantine(self, segment: Path, reason: str) -> Path:
        """Move a segment and its sidecars into quarantine/ with the reason beside it."""
        target = move_to_quarantine(segment, self.quarantine_dir, reason)
        log.error("quarantined %s: %s", segment.name, reason)
        return target

    def size_bytes(self) -> int:
        """Bytes held in incoming/ and ready/ (quarantine is excluded: it is not a backlog)."""
        total = 0
        for directory in (self.incoming, self.ready):
            with os.scandir(directory) as entries:
                total += sum(_size_of(entry) for entry in entries)
        return total

    def check_limit(self, delta: int = 0, force: bool = False) -> None:
        """Fire the alarm once when over the limit, and once when back under it.

        `delta` adjusts a running estimate (a segment added or uploaded); the directories
        are rescanned only every rescan_interval_s, because a backlog after a long outage
        can hold tens of thousands of files and this runs for every segment.
        """
        if self.limit_bytes is None:
            return
        with self._lock:
            size = self._estimate_size(delta, force)
            over = size > self.limit_bytes
            if over == self._alarmed:
                return
            self._alarmed = over
        state = "over_limit" if over else "recovered"
        log.warning("spool %s: %d bytes (limit %d)", state, size, self.limit_bytes)
        if self.on_alarm is not None:
            self.on_alarm(SpoolAlarm(state, size, self.limit_bytes))

    def note_disk_full(self, full: bool) -> None:
        """A write to the spool failed for lack of space (True) or a segment was finished
        again (False): fire `disk_full` once when it starts and `disk_recovered` once when
        it ends, whatever the size limit says."""
        with self._lock:
            if full == self._disk_full:
                return
            self._disk_full = full
        size = self.size_bytes()
        state = "disk_full" if full else "disk_recovered"
        log.log(logging.ERROR if full else logging.WARNING, "spool %s: %d bytes held", state, size)
        if self.on_alarm is not None:
            self.on_alarm(SpoolAlarm(state, size, self.limit_bytes or 0))

    def _estimate_size(self, delta: int, force: bool) -> int:
        """Rescan when due, else adjust the running estimate (call with the lock held)."""
        now = time.monotonic()
        if force or self._estimate is None or now - self._scanned_at >= self.rescan_interval_s:
            self._estimate, self._scanned_at = self.size_bytes(), now
        else:
            self._estimate = max(0, self._estimate + delta)
        return self._estimate

    def recover(self, probe: Callable[[Path], object]) -> RecoveryReport:
        """After a crash: finalize or quarantine incoming/, re-queue ready/ (no uploads here).

        Call it at start-up, before any segmenter writes to this spool: everything in
        incoming/ is then known to be a leftover.

        `probe` is camerahub.video.salvage_segment (injected: storage imports nothing of
        ours); it returns an object with playable, reason, duration_ms, frames, keyframes,
        codec, width, height and playable_bytes: how many leading bytes are playable
        evidence, which the measurements describe. Only those are finalized; the rest is
        cut off into quarantine with the reason. A probe that does not say (no
        playable_bytes) vouches for the whole file, and a .ts file is still cut to whole
        188-byte TS packets: a partial packet is never finalized, whatever the probe says.
        """
        report = RecoveryReport()
        self._remove_temp_files(report)
        self._finish_interrupted_commits(report)
        for segment in sorted(self.incoming.iterdir()):
            if is_segment(segment):
                self._recover_incoming(segment, probe, report)
        self._remove_orphan_open_sidecars(report)
        self._check_ready(report)
        self.check_limit(force=True)
        return report

    def _remove_temp_files(self, report: RecoveryReport) -> None:
        """Temp files are never the only copy of anything; drop them."""
        for directory in (self.incoming, self.ready):
            for tmp in directory.glob(TEMP_GLOB):
                tmp.unlink(missing_ok=True)
                report.removed.append(tmp)

    def _finish_interrupted_commits(self, report: RecoveryReport) -> None:
        """A ready/ sidecar whose segment is still in incoming/: finish or undo the rename."""
        for sidecar in sorted(self.ready.glob("*.json")):
            if segment_for(sidecar, self.ready) is not None:
                continue
            pending = segment_for(sidecar, self.incoming)
            declared = declared_sha256(sidecar) if pending is not None else None
            if declared is not None and declared == file_sha256(pending)[0]:
                finish_commit(pending, self.ready / pending.name)
                report.finalized.append(self.ready / pending.name)
            else:
                sidecar.unlink()  # describes bytes that never made it; incoming/ is probed
                report.removed.append(sidecar)

    def _recover_incoming(self, segment: Path, probe, report: RecoveryReport) -> None:
        """Probe a leftover partial segment: finalize its playable part, quarantine the rest."""
        opened = OpenSidecar.read(segment)
        if opened is None:
            report.quarantined.append(self.quarantine(segment, "no open sidecar"))
            return
        check = probe(segment)
        keep = _playable_bytes(segment, check)
        if not getattr(check, "playable", False) or keep <= 0:
            reason = f"unplayable after crash: {getattr(check, 'reason', None) or 'unknown'}"
            report.quarantined.append(self.quarantine(segment, reason))
            return
        if keep < segment.stat().st_size:
            reason = f"cut off after crash: {getattr(check, 'reason', None) or 'not playable'}"
            report.trimmed.append(split_tail(segment, keep, self.quarantine_dir, reason))
            log.warning("kept %d bytes of %s after restart; the rest quarantined: %s",
                        keep, segment.name, reason)
        report.finalized.append(self._finalize(segment, opened, check))

    def _finalize(self, segment: Path, opened: OpenSidecar, check) -> Path:
        """Hash a playable leftover and commit it with what the probe measured."""
        sha256, size = file_sha256(segment)
        item = opened.finished(
            self.ready / segment.name, sha256, size, duration_ms=check.duration_ms,
            frames=check.frames, keyframes=check.keyframes, codec=check.codec,
            width=check.width, height=check.height)
        publish(segment, item)
        log.warning("finalized %s after restart (%d ms)", segment.name, item.duration_ms)
        return item.path

    def _remove_orphan_open_sidecars(self, report: RecoveryReport) -> None:
        """An open sidecar without its segment describes nothing."""
        for sidecar in self.incoming.glob("*" + OPEN_SUFFIX):
            stem = sidecar.name[: -len(OPEN_SUFFIX)]
            if not any((self.incoming / (stem + s)).exists() for s in SEGMENT_SUFFIXES):
                sidecar.unlink()
                report.removed.append(sidecar)

    def _check_ready(self, report: RecoveryReport) -> None:
        """Re-queue ready/ segments; quarantine those without a usable sidecar."""
        for segment in sorted(self._ready_segments()):
            if self.load(segment) is None:
                report.quarantined.append(self.quarantine(segment, "no usable sidecar"))
            else:
                report.requeued.append(segment)


def _playable_bytes(segment: Path, check) -> int:
    """How many leading bytes of a leftover may be finalized: what the probe vouches for,
    and for MPEG-TS never a partial 188-byte packet."""
    size = segment.stat().st_size
    keep = getattr(check, "playable_bytes", None)
    keep = size if keep is None else min(int(keep), size)
    if segment.suffix == ".ts":
        keep -= keep % TS_PACKET
    return keep


def _size_of(entry: os.DirEntry) -> int:
    """Size of a file entry; 0 if it vanished meanwhile (an upload just removed it)."""
    try:
        return entry.stat().st_size if entry.is_file() else 0
    except FileNotFoundError:
        return 0

