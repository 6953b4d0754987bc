"""FileStore: the embedded default store, a local directory with the SegmentStore contract.

Layout under root: `data/{key}` holds the bytes, `meta/{key}.json` the SHA-256 and
metadata, `holds/{key}` marks a legal hold. Objects are staged under a temp name and
hard-linked into place: a link never replaces an existing file, so two writers of the
same key cannot overwrite evidence even in a race.

Staging costs no copy when the source (a spool segment, already fsynced and never written
again) is on the same filesystem: it is hard-linked, hashed, and the store and the spool
share the inode until the spool lets go of its name. Across filesystems the bytes are
copied, hashed on the way, and fsynced. Either way the bytes are checked against the
declared SHA-256 before they become visible.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from camerahub.storage.base import (
    ObjectInfo,
    SegmentStore,
    check_key,
    check_sha256,
    verify_local,
)
from camerahub.storage.errors import (
    ChecksumMismatch,
    InvalidKey,
    ObjectLocked,
    ObjectMissing,
    StorageUnavailable,
)
from camerahub.storage.spoolfiles import fsync_path

log = logging.getLogger(__name__)

# Why a hard link can fail where a copy works: other filesystem, no links there, too many.
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES})


class FileStore(SegmentStore):
    """Segments in a local directory (tests, demos, single-box installs)."""

    legal_hold_supported = True

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root).resolve()
        # Striped per-key locks: the check-write-link sequence of put is atomic within this
        # process (one recorder owns a FileStore; it is not meant to be shared by processes).
        self._locks = [threading.Lock() for _ in range(64)]
        for name in ("data", "meta", "holds"):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def _path(self, area: str, key: str, suffix: str = "") -> Path:
        """Map a key into one of the areas, refusing anything that escapes it."""
        base = self.root / area
        path = (base / (check_key(key) + suffix)).resolve()
        if not path.is_relative_to(base):
            raise InvalidKey(f"object key {key!r} escapes the store root")
        return path

    def put(self, key: str, path: Path, sha256: str, metadata: dict[str, str] | None = None,
            *, verified: bool = False) -> bool:
        """Store a file once; identical re-puts are no-ops, different bytes are refused."""
        check_sha256(sha256)
        with self._locks[hash(key) % len(self._locks)]:
            return self._put_locked(key, Path(path), sha256, metadata, verified)

    def _put_locked(self, key: str, path: Path, sha256: str,
                    metadata: dict[str, str] | None, verified: bool) -> bool:
        """The body of put, under the key's lock."""
        target = self._path("data", key)
        size = path.stat().st_size
        if self._matches_existing(key, sha256, size):
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._stage(path, target, sha256, verified)
        try:
            self._write_meta(key, sha256, size, metadata or {})
            self._link_into_place(tmp, target, key, sha256, size)
        finally:
            tmp.unlink(missing_ok=True)
        return True

    def _stage(self, source: Path, target: Path, sha256: str, verified: bool) -> Path:
        """The bytes under a temp name beside the target, checked against sha256: a hard
        link of a verified file is not read at all; a copy is hashed on the way."""
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            os.link(source, tmp)
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise StorageUnavailable(f"cannot stage {target}: {exc}") from exc
            return self._copy_to_temp(source, tmp, sha256)
        if verified:
            return tmp
        try:
            verify_local(tmp, sha256)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _copy_to_temp(self, source: Path, tmp: Path, sha256: str) -> Path:
        """Copy into the temp file, hashing on the way, and fsync it."""
        digest = hashlib.sha256()
        try:
            with open(source, "rb") as src, open(tmp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    dst.write(chunk)
                dst.flush()
                os.fsync(dst.fileno())
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageUnavailable(f"cannot write {tmp.parent}: {exc}") from exc
        if digest.hexdigest() != sha256:
            tmp.unlink(missing_ok=True)
            raise ChecksumMismatch(f"{source}: sha256 is {digest.hexdigest()}, declared {sha256}")
        return tmp

    def _link_into_place(self, tmp: Path, target: Path, key: str, sha256: str, size: int
                         ) -> None:
        """Publish atomically without ever replacing an existing object."""
        try:
            os.link(tmp, target)
        except FileExistsError:
            self._matches_existing(key, sha256, size)  # lost a race: same bytes or conflict
            return
        fsync_path(target.parent)

    def _write_meta(self, key: str, sha256: str, size: int, metadata: dict[str, str]) -> None:
        """Write the sidecar before the data so a visible object always has its checksum."""
        meta = self._path("meta", key, ".json")
        meta.parent.mkdir(parents=True, exist_ok=True)
        tmp = meta.with_name(f".{meta.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"sha256": sha256, "size": size, "metadata": metadata}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, meta)

    def head(self, key: str) -> ObjectInfo | None:
        """Describe an object from its data file and sidecar."""
        data = self._path("data", key)
        try:
            size = data.stat().st_size
        except FileNotFoundError:
            return None
        meta = self._read_meta(key)
        return ObjectInfo(key, size, meta.get("sha256"), meta.get("metadata", {}),
                          self._path("holds", key).exists())

    def _read_meta(self, key: str) -> dict:
        """Load the sidecar, or {} if it is missing or unreadable."""
        try:
            return json.loads(self._path("meta", key, ".json").read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            log.warning("object %s has no readable checksum sidecar", key)
            return {}

    def open(self, key: str) -> BinaryIO:
        """Open the object for reading."""
        try:
            return open(self._path("data", key), "rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Read a byte range."""
        with self.open(key) as fh:
            fh.seek(offset)
            return fh.read(length)

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Walk the data area in sorted order, starting at the prefix's directory."""
        base = self.root / "data"
        start = base / prefix.rsplit("/", 1)[0] if "/" in prefix else base
        if prefix and "/" in prefix:
            check_key(prefix.rsplit("/", 1)[0])
        for key in _walk_sorted(base, start):
            if key.startswith(prefix):
                yield key

    def delete(self, key: str) -> None:
        """Remove an object unless a legal hold is on it."""
        if self._path("holds", key).exists():
            raise ObjectLocked(f"{key} is under legal hold")
        self._path("data", key).unlink(missing_ok=True)
        self._path("meta", key, ".json").unlink(missing_ok=True)

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Create or remove the hold marker."""
        if self.head(key) is None:
            raise ObjectMissing(key)
        marker = self._path("holds", key)
        if on:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        else:
            marker.unlink(missing_ok=True)

    def verify(self, key: str) -> None:
        """Re-hash an object against its sidecar (for audits); raise ChecksumMismatch."""
        info = self.head(key)
        if info is None:
            raise ObjectMissing(key)
        try:
            verify_local(self._path("data", key), info.sha256 or "")
        except ChecksumMismatch as exc:
            raise ChecksumMismatch(f"{key}: {exc}") from exc


def _walk_sorted(base: Path, start: Path) -> Iterator[str]:
    """Yield keys under start, depth first in lexical order, skipping temp files."""
    if not start.is_dir():
        return
    for entry in sorted(os.scandir(start), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk_sorted(base, Path(entry.path))
        elif entry.is_file(follow_symlinks=False):
            yield Path(entry.path).relative_to(base).as_posix()

