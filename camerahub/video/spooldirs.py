"""The spool layout shared (by convention only, no import) with camerahub.storage.spool.

`incoming/{stem}.ts` is a segment being written, with `incoming/{stem}.open.json`
(camera_id, site, start_utc, ext) written before its first byte so a crash leaves enough
to finalize it. `ready/{stem}.json` (the SegmentInfo) is renamed into place first and
`ready/{stem}.ts` last: the rename of the segment is the commit point.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

INCOMING = "incoming"
READY = "ready"
QUARANTINE = "quarantine"
OPEN_SUFFIX = ".open.json"


def ensure_dirs(root: Path) -> None:
    """Create the spool directories if missing."""
    for name in (INCOMING, READY, QUARANTINE):
        (root / name).mkdir(parents=True, exist_ok=True)


def fsync_path(path: Path) -> None:
    """Flush a file or directory to disk so a rename survives power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: dict) -> None:
    """Write JSON next to its final name, fsync, then rename over it."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
