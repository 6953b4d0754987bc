"""The spool's files: the one owner of segment files, their sidecars and the directories.

Layout under the spool root:
- `incoming/{stem}.{ext}` is a segment being written. `incoming/{stem}.open.json` (camera_id,
  site, start_utc, ext) is written before its first byte, so a crash leaves enough to
  finalize it.
- `ready/{stem}.json` (a SpoolItem) is renamed into place first and `ready/{stem}.{ext}`
  last: the rename of the segment is the commit point.
- `quarantine/` keeps what must not be uploaded, with a `{stem}.reason.txt`; the tail cut
  off a segment recovered after a crash is `{stem}.tail.bin` with `{stem}.tail.reason.txt`.

`{stem}` is `{site}~{camera}~{start}` (start written as in object keys), with `~n` added
when taken. The segmenter writes through SpoolSink, which meets camerahub.video's
SegmentSink by shape (neither package imports the other); Spool.recover commits leftovers
with the same sidecar and the same rename. write_json_atomic and fsync_path are the
storage package's durable writes (FileStore's fsync_path is this one).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from camerahub.storage.errors import InvalidKey
from camerahub.storage.keys import EXTENSIONS, check_id, format_stamp, segment_key, to_utc_ms

log = logging.getLogger(__name__)

INCOMING, READY, QUARANTINE = "incoming", "ready", "quarantine"
OPEN_SUFFIX = ".open.json"
SEGMENT_SUFFIXES = (".ts", ".mp4")  # keys.EXTENSIONS as file suffixes
TEMP_GLOB = ".*.tmp"  # what write_json_atomic leaves behind if it is interrupted
TAIL_SUFFIX = ".tail.bin"
# MPEG-TS is a sequence of 188-byte packets starting with 0x47: a .ts segment of any other
# size was cut short (the storage side of the rule; camerahub.video.probe is the media side).
TS_PACKET = 188
TS_SYNC = b"\x47"
_MAX_SUFFIX = 1000


# --- durable writes ---------------------------------------------------------------------------

def fsync_path(path: Path) -> None:
    """Flush a file or directory to disk so a rename survives power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON beside its final name, fsync it, then rename it over that name."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# --- names and times -------------------------------------------------------------------------

def format_utc(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z, as sidecars hold times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(value: str) -> datetime:
    """Parse an ISO time (Z allowed) into aware UTC."""
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {value!r} has no timezone")
    return moment.astimezone(UTC)


def ensure_dirs(root: Path) -> None:
    """Create the spool directories if missing."""
    for name in (INCOMING, READY, QUARANTINE):
        (root / name).mkdir(parents=True, exist_ok=True)


def is_segment(path: Path) -> bool:
    """Whether a directory entry is a segment (not a sidecar, reason or temp file)."""
    return path.suffix in SEGMENT_SUFFIXES and not path.name.startswith(".")


def sidecar_of(segment: Path) -> Path:
    """The `{stem}.json` describing a finished segment."""
    return segment.with_suffix(".json")


def open_sidecar_of(segment: Path) -> Path:
    """The `{stem}.open.json` written when the segment was started."""
    return segment.with_name(segment.stem + OPEN_SUFFIX)


def segment_for(sidecar: Path, directory: Path) -> Path | None:
    """The segment file with the sidecar's stem in a directory, if any."""
    for suffix in SEGMENT_SUFFIXES:
        candidate = directory / (sidecar.stem + suffix)
        if candidate.exists():
            return candidate
    return None


def file_signature(st: os.stat_result) -> str:
    """Inode, size and modification time (ns) of a file: what changes when it is written."""
    return f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


# --- the two sidecars ------------------------------------------------------------------------

@dataclass(frozen=True)
class SpoolItem:
    """A finished segment in ready/; its fields are the `ready/{stem}.json` sidecar."""

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
    # The file as it was when the spool hashed it while writing it (`file_signature`); empty
    # for segments hashed from disk (recovery). See `unchanged_since_sealed`.
    sealed: str = ""

    @property
    def end_utc(self) -> datetime:
        """When the segment ends (the start of the next one in the same session)."""
        return self.start_utc + timedelta(milliseconds=self.duration_ms)

    @property
    def key(self) -> str:
        """The object key this segment is stored under."""
        return segment_key(self.site, self.camera_id, self.start_utc, self.duration_ms, self.ext)

    @property
    def sort_key(self) -> tuple:
        """Oldest first, ties broken by file name."""
        return (self.start_utc, self.path.name)

    def unchanged_since_sealed(self) -> bool:
        """Whether the file is still the one whose bytes `sha256` was computed over as they
        were written: same inode, size and modification time as at sealing. Any write,
        truncation or replacement since changes one of them, so the store need not read
        and hash the file again to check it (FileStore links it without reading it at all).
        """
        if not self.sealed:
            return False
        try:
            return file_signature(self.path.stat()) == self.sealed
        except OSError:
            return False

    def metadata(self) -> dict[str, str]:
        """Object metadata (ASCII strings) describing the segment."""
        return {
            "camera": self.camera_id, "site": self.site,
            "start": self.start_utc.isoformat(timespec="milliseconds"),
            "duration-ms": str(self.duration_ms), "codec": self.codec,
            "size": f"{self.width}x{self.height}", "frames": str(self.frames),
        }

    def to_json(self) -> dict:
        """The sidecar form: every field, the start as ISO UTC with a Z, the path as text."""
        data = asdict(self)
        data["start_utc"] = format_utc(self.start_utc)
        data["path"] = str(self.path)
        return data

    @classmethod
    def from_sidecar(cls, sidecar: Path, segment: Path) -> SpoolItem:
        """Load from a ready/ sidecar; ValueError/KeyError/TypeError if malformed.

        The path is the segment's actual one: the sidecar's copy is informative only.
        """
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        names = cls.__dataclass_fields__
        values = {k: v for k, v in data.items() if k in names}
        values["start_utc"] = parse_utc(values["start_utc"])
        values["path"] = segment
        return cls(**values)


@dataclass(frozen=True)
class OpenSidecar:
    """What `incoming/{stem}.open.json` holds: enough to finalize the segment after a crash."""

    camera_id: str
    site: str
    start_utc: datetime
    ext: str = "ts"

    def write(self, segment: Path) -> None:
        """Write it for a segment, before the segment's first byte."""
        write_json_atomic(open_sidecar_of(segment), {
            "camera_id": self.camera_id, "site": self.site,
            "start_utc": format_utc(self.start_utc), "ext": self.ext,
        })

    @classmethod
    def read(cls, segment: Path) -> OpenSidecar | None:
        """The open sidecar of a segment, or None if it is missing or unusable."""
        try:
            data = json.loads(open_sidecar_of(segment).read_text(encoding="utf-8"))
            start = parse_utc(data["start_utc"])
            if not (data.get("camera_id") and data.get("site")):
                return None
            return cls(data["camera_id"], data["site"], start, data.get("ext", "ts"))
        except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
            return None

    def finished(self, path: Path, sha256: str, size: int, *, duration_ms: int, frames: int,
                 keyframes: int, codec: str, width: int, height: int,
                 start_utc: datetime | None = None, sealed: str = "") -> SpoolItem:
        """The SpoolItem of this segment at `path`, once written, hashed and measured.

        `start_utc` is the writer's final word on the start when it knows better than when
        it began the segment (live streams: see camerahub.video.timing); else the open one.
        """
        return SpoolItem(
            camera_id=self.camera_id, site=self.site,
            start_utc=self.start_utc if start_utc is None else to_utc_ms(start_utc),
            duration_ms=int(duration_ms), path=path, bytes=size, sha256=sha256,
            frames=int(frames), keyframes=int(keyframes), codec=str(codec),
            width=int(width), height=int(height), ext=self.ext, sealed=sealed,
        )


def declared_sha256(sidecar: Path) -> str | None:
    """The SHA-256 a ready/ sidecar declares, or None if it cannot be read."""
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data.get("sha256") if isinstance(data, dict) else None


# --- moving segments -------------------------------------------------------------------------

def publish(segment: Path, item: SpoolItem) -> None:
    """Commit a written segment as `item`: sidecar first, the segment's rename last."""
    write_json_atomic(sidecar_of(item.path), item.to_json())
    finish_commit(segment, item.path)


def finish_commit(segment: Path, target: Path) -> None:
    """Rename a segment into ready/ (the commit point), make it durable, drop its open sidecar."""
    os.replace(segment, target)
    fsync_path(target.parent)
    open_sidecar_of(segment).unlink(missing_ok=True)


def split_tail(segment: Path, keep: int, quarantine_dir: Path, reason: str) -> Path:
    """Move the bytes after `keep` into quarantine (kept, never uploaded), then truncate.

    The tail is made durable before the segment shrinks: a crash in between leaves the
    whole segment, which the next recovery cuts the same way. An earlier tail of the same
    segment (a crash during recovery) is never overwritten.
    """
    tail = _free_name(quarantine_dir, segment.stem, TAIL_SUFFIX)
    with open(segment, "rb") as src, open(tail, "xb") as dst:
        src.seek(keep)
        while chunk := src.read(1 << 20):
            dst.write(chunk)
        dst.flush()
        os.fsync(dst.fileno())
    tail.with_name(tail.name[: -len(".bin")] + ".reason.txt").write_text(reason + "\n")
    fsync_path(quarantine_dir)
    os.truncate(segment, keep)
    fsync_path(segment)
    return tail


def _free_name(directory: Path, stem: str, suffix: str) -> Path:
    """`{stem}{suffix}` in directory, or `{stem}~n{suffix}` when taken."""
    for n in range(_MAX_SUFFIX):
        candidate = directory / f"{stem}{'' if n == 0 else f'~{n}'}{suffix}"
        if not candidate.exists():
            return candidate
    raise FileExistsError(errno.EEXIST, "no free quarantine name", stem)


def unfit_for_upload(item: SpoolItem) -> str | None:
    """Why a ready segment must not be uploaded (None when it may): its file is not the
    size its sidecar says, or a .ts file is not whole 188-byte TS packets."""
    try:
        size = item.path.stat().st_size
        with open(item.path, "rb") as fh:
            first = fh.read(1)
    except FileNotFoundError:
        return None  # gone: uploaded by an earlier run or another worker
    if size != item.bytes:
        return f"file holds {size} bytes, its sidecar says {item.bytes}"
    if item.ext == "ts" and (size == 0 or size % TS_PACKET or first != TS_SYNC):
        return f"{size} bytes is not a whole number of {TS_PACKET}-byte TS packets"
    return None


def remove_ready(segment: Path) -> None:
    """Delete a ready/ segment and its sidecar."""
    segment.unlink(missing_ok=True)
    sidecar_of(segment).unlink(missing_ok=True)


def move_to_quarantine(segment: Path, quarantine_dir: Path, reason: str) -> Path:
    """Move a segment and its sidecars into quarantine/ with the reason beside them."""
    target = quarantine_dir / segment.name
    for companion in (sidecar_of(segment), open_sidecar_of(segment)):
        if companion.exists():
            os.replace(companion, quarantine_dir / companion.name)
    if segment.exists():
        os.replace(segment, target)
    (quarantine_dir / f"{segment.stem}.reason.txt").write_text(reason + "\n")
    return target


# --- writing segments ------------------------------------------------------------------------

class SpoolFile:
    """A segment being written into incoming/: straight to the OS, hashed on the way.

    The SHA-256 is ready when the segment is committed, with no second read of the file.
    It offers write() and close() only, so a muxer sees a plain non-seekable stream.
    """

    def __init__(self, path: Path, opened: OpenSidecar) -> None:
        self.path, self.opened = path, opened
        self.raw = open(path, "wb", buffering=0)  # noqa: SIM115 - closed in close()
        self.digest = hashlib.sha256()
        self.size = 0
        self.failed: OSError | None = None
        self.signature = ""  # the file as hashed, once sealed (SpoolItem.sealed)

    def write(self, data: bytes) -> int:
        """Write all of data (looping over short writes) and hash it."""
        view = memoryview(data)
        try:
            while view:
                view = view[self.raw.write(view):]
        except OSError as exc:  # disk full: part of data may be on disk, unhashed
            self.failed = exc
            raise
        self.digest.update(data)
        self.size += len(data)
        return len(data)

    def close(self) -> None:
        """fsync (unless a write failed: that file is left to recovery) and close."""
        if not self.raw.closed:
            try:
                if self.failed is None:
                    os.fsync(self.raw.fileno())
                    self.signature = file_signature(os.fstat(self.raw.fileno()))
            finally:
                self.raw.close()

    def seal(self) -> tuple[str, int]:
        """Close, then return (SHA-256, size) of what was written; re-raise a failed write."""
        self.close()
        if self.failed is not None:
            # The digest no longer describes the file: leave it in incoming/ for recovery,
            # which probes and hashes what is actually on disk.
            raise self.failed
        return self.digest.hexdigest(), self.size


class SpoolSink:
    """Where segmenters write: names the files, writes both sidecars, commits with fsyncs.

    It is camerahub.video's SegmentSink for this spool. Segmenters of different cameras may
    share one: their file names never collide. Every failure to take a segment is an OSError.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        ensure_dirs(self.root)

    def begin(self, camera_id: str, site: str, start_utc: datetime, ext: str) -> SpoolFile:
        """Open `incoming/{stem}.{ext}`, its open sidecar written before the first byte."""
        if ext not in EXTENSIONS:
            raise InvalidKey(f"extension {ext!r} is not one of {sorted(EXTENSIONS)}")
        opened = OpenSidecar(check_id("camera", camera_id), check_id("site", site),
                             to_utc_ms(start_utc), ext)
        path = self._free_path(opened)
        opened.write(path)
        return SpoolFile(path, opened)

    def commit(self, file: SpoolFile, *, duration_ms: int, frames: int, keyframes: int,
               codec: str, width: int, height: int,
               start_utc: datetime | None = None) -> SpoolItem:
        """Seal a written segment and publish it in ready/ with the writer's measurements."""
        sha256, size = file.seal()
        item = file.opened.finished(
            self.root / READY / file.path.name, sha256, size, duration_ms=duration_ms,
            frames=frames, keyframes=keyframes, codec=codec, width=width, height=height,
            start_utc=start_utc, sealed=file.signature)
        publish(file.path, item)
        log.info("segment %s %s %d ms", item.camera_id, format_utc(item.start_utc),
                 item.duration_ms)
        return item

    def abandon(self, file: SpoolFile) -> None:
        """Close a segment that will not be committed; Spool.recover() deals with it later."""
        file.close()

    def discard(self, file: SpoolFile) -> None:
        """Close and delete a segment with no frame: nothing in it is footage."""
        file.close()
        for path in (file.path, open_sidecar_of(file.path)):
            path.unlink(missing_ok=True)

    def reject(self, file: SpoolFile, reason: str) -> None:
        """Close a segment the writer refuses as evidence and move it into quarantine."""
        file.close()
        move_to_quarantine(file.path, self.root / QUARANTINE, reason)
        log.error("segment %s quarantined: %s", file.path.name, reason)

    def _free_path(self, opened: OpenSidecar) -> Path:
        """An unused incoming/ path named after site, camera and start."""
        base = f"{opened.site}~{opened.camera_id}~{format_stamp(opened.start_utc)}"
        for n in range(_MAX_SUFFIX):
            name = f"{base if n == 0 else f'{base}~{n}'}.{opened.ext}"
            if not any((self.root / d / name).exists() for d in (INCOMING, READY)):
                return self.root / INCOMING / name
        raise FileExistsError(errno.EEXIST, "no free spool name", base)
