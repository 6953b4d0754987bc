"""The local spool between the segmenter and the uploader.

Layout (shared by convention with camerahub.video, which writes it; neither imports the
other): `incoming/{stem}.ts` is being written, with `incoming/{stem}.open.json` naming
camera_id, site, start_utc and ext; `ready/{stem}.json` is the finished segment's info
(camera_id, site, start_utc, duration_ms, bytes, sha256, frames, keyframes, codec, width,
height, ext, path) and `ready/{stem}.ts` its bytes, renamed last as the commit point;
`quarantine/` keeps what must not be uploaded, with a `.reason.txt`. Nothing here ever
deletes a segment except after a verified upload, and the size limit only raises an alarm.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from camerahub.storage.base import file_sha256
from camerahub.storage.keys import segment_key

log = logging.getLogger(__name__)

INCOMING, READY, QUARANTINE = "incoming", "ready", "quarantine"
OPEN_SUFFIX = ".open.json"
SEGMENT_SUFFIXES = (".ts", ".mp4")


@dataclass(frozen=True)
class SpoolItem:
    """A finished segment waiting in ready/; field names match video.SegmentInfo."""

    camera_id: str
    site: str
    start_utc: datetime
    duration_ms: int
    path: Path
    bytes: int
    sha256: str
    frames: int = 0
    keyframes: int = 0
    codec: str = ""
    width: int = 0
    height: int = 0
    ext: str = "ts"

    @property
    def key(self) -> str:
        """The object key this segment is stored under."""
        return segment_key(self.site, self.camera_id, self.start_utc, self.duration_ms, self.ext)

    @property
    def sort_key(self) -> tuple:
        """Oldest first, ties broken by file name."""
        return (self.start_utc, self.path.name)

    def metadata(self) -> dict[str, str]:
        """Object metadata (ASCII strings) describing the segment."""
        return {
            "camera": self.camera_id, "site": self.site,
            "start": self.start_utc.isoformat(timespec="milliseconds"),
            "duration-ms": str(self.duration_ms), "codec": self.codec,
            "size": f"{self.width}x{self.height}", "frames": str(self.frames),
        }

    @classmethod
    def from_sidecar(cls, sidecar: Path, segment: Path) -> SpoolItem:
        """Load from a ready/ sidecar; ValueError/KeyError/TypeError if malformed."""
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        names = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in names}
        values["start_utc"] = _parse_utc(values["start_utc"])
        values["path"] = segment
        return cls(**values)


@dataclass(frozen=True)
class SpoolAlarm:
    """The spool crossed its size limit (`over_limit`) or fell back below it (`recovered`)."""

    state: str
    bytes: int
    limit: int


@dataclass
class RecoveryReport:
    """What recover() did with the leftovers of a previous run."""

    finalized: list[Path] = field(default_factory=list)
    quarantined: list[Path] = field(default_factory=list)
    requeued: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def _parse_utc(value: str) -> datetime:
    """Parse an ISO time (Z allowed) into aware UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no timezone")
    return moment.astimezone(UTC)


def _write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON to a temp file, fsync, rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


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
        self._estimate: int | None = None
        self._scanned_at = 0.0
        self._lock = threading.Lock()
        for name in (INCOMING, READY, QUARANTINE):
            (self.root / name).mkdir(parents=True, exist_ok=True)

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
        return [p for p in self.ready.iterdir()
                if p.suffix in SEGMENT_SUFFIXES and not p.name.startswith(".")]

    def load(self, segment: Path) -> SpoolItem | None:
        """Load one ready segment's item, or None if it has no usable sidecar."""
        try:
            return SpoolItem.from_sidecar(segment.with_suffix(".json"), segment)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            log.error("unusable sidecar for %s: %s", segment, exc)
            return None

    def remove(self, item: SpoolItem) -> None:
        """Delete an uploaded segment (call only after a verified upload)."""
        item.path.unlink(missing_ok=True)
        item.path.with_suffix(".json").unlink(missing_ok=True)
        self.check_limit(-item.bytes)

    def quarantine(self, segment: Path, reason: str) -> Path:
        """Move a segment and its sidecars into quarantine/ with the reason beside it."""
        target = self.quarantine_dir / segment.name
        for companion in _companions(segment):
            if companion.exists():
                os.replace(companion, self.quarantine_dir / companion.name)
        if segment.exists():
            os.replace(segment, target)
        (self.quarantine_dir / f"{segment.stem}.reason.txt").write_text(reason + "\n")
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

        `probe` is camerahub.video.probe_segment (injected: storage imports nothing of
        ours); it returns an object with playable, reason, duration_ms, frames, keyframes,
        codec, width and height.
        """
        report = RecoveryReport()
        self._remove_temp_files(report)
        self._finish_interrupted_commits(report)
        for segment in sorted(self.incoming.iterdir()):
            if segment.suffix in SEGMENT_SUFFIXES and not segment.name.startswith("."):
                self._recover_incoming(segment, probe, report)
        self._remove_orphan_open_sidecars(report)
        self._check_ready(report)
        self.check_limit(force=True)
        return report

    def _remove_temp_files(self, report: RecoveryReport) -> None:
        """Temp files are never the only copy of anything; drop them."""
        for directory in (self.incoming, self.ready):
            for tmp in directory.glob(".*.tmp"):
                tmp.unlink(missing_ok=True)
                report.removed.append(tmp)

    def _finish_interrupted_commits(self, report: RecoveryReport) -> None:
        """A ready/ sidecar whose segment is still in incoming/: finish or undo the rename."""
        for sidecar in sorted(self.ready.glob("*.json")):
            segment = _segment_for(sidecar, self.ready)
            if segment is not None:
                continue
            pending = _segment_for(sidecar, self.incoming)
            if pending is not None and self._sidecar_matches(sidecar, pending):
                os.replace(pending, self.ready / pending.name)
                pending.with_name(pending.stem + OPEN_SUFFIX).unlink(missing_ok=True)
                report.finalized.append(self.ready / pending.name)
            else:
                sidecar.unlink()  # describes bytes that never made it; incoming/ is probed
                report.removed.append(sidecar)

    def _sidecar_matches(self, sidecar: Path, segment: Path) -> bool:
        """Whether a sidecar's SHA-256 is that of the segment's bytes."""
        try:
            declared = json.loads(sidecar.read_text(encoding="utf-8")).get("sha256")
        except ValueError:
            return False
        return declared == file_sha256(segment)[0]

    def _recover_incoming(self, segment: Path, probe, report: RecoveryReport) -> None:
        """Probe a leftover partial segment: finalize it into ready/ or quarantine it."""
        opened = self._read_open_sidecar(segment)
        if opened is None:
            report.quarantined.append(self.quarantine(segment, "no open sidecar"))
            return
        check = probe(segment)
        if not getattr(check, "playable", False):
            reason = f"unplayable after crash: {getattr(check, 'reason', 'unknown')}"
            report.quarantined.append(self.quarantine(segment, reason))
            return
        report.finalized.append(self._finalize(segment, opened, check))

    def _read_open_sidecar(self, segment: Path) -> dict | None:
        """The camera/site/start written when the segment was opened."""
        try:
            data = json.loads(segment.with_name(segment.stem + OPEN_SUFFIX).read_text("utf-8"))
            _parse_utc(data["start_utc"])
            return data if data.get("camera_id") and data.get("site") else None
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None

    def _finalize(self, segment: Path, opened: dict, check) -> Path:
        """Write the ready/ sidecar from the probe, then commit by renaming the segment."""
        sha256, size = file_sha256(segment)
        target = self.ready / segment.name
        info = {
            "camera_id": opened["camera_id"], "site": opened["site"],
            "start_utc": opened["start_utc"], "ext": opened.get("ext", "ts"),
            "duration_ms": int(check.duration_ms), "bytes": size, "sha256": sha256,
            "frames": int(check.frames), "keyframes": int(check.keyframes),
            "codec": str(check.codec), "width": int(check.width), "height": int(check.height),
            "path": str(target),
        }
        _write_json_atomic(target.with_suffix(".json"), info)
        os.replace(segment, target)
        segment.with_name(segment.stem + OPEN_SUFFIX).unlink(missing_ok=True)
        log.warning("finalized %s after restart (%d ms)", segment.name, info["duration_ms"])
        return target

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


def _segment_for(sidecar: Path, directory: Path) -> Path | None:
    """The segment file with the sidecar's stem in a directory, if any."""
    for suffix in SEGMENT_SUFFIXES:
        candidate = directory / (sidecar.stem + suffix)
        if candidate.exists():
            return candidate
    return None


def _size_of(entry: os.DirEntry) -> int:
    """Size of a file entry; 0 if it vanished meanwhile (an upload just removed it)."""
    try:
        return entry.stat().st_size if entry.is_file() else 0
    except FileNotFoundError:
        return 0


def _companions(segment: Path) -> list[Path]:
    """Sidecars that travel with a segment."""
    return [segment.with_suffix(".json"), segment.with_name(segment.stem + OPEN_SUFFIX)]
