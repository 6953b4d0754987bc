"""The product's half of the GStreamer engine prototype: what camerahub does per segment.

Starts benchmarks/gst_recorder.py under the system interpreter (it has PyGObject; this venv
has not) and, for every segment it reports closed, does what the product's recorder does
after a segment is written: SHA-256 and size, the ready/ sidecar and the rename into the
spool's ready/ (the commit point, fsynced), then the product's Uploader stores it in the
FileStore under the contract key and the index gets its row (camerahub.db.segments), after
the same overlap admission. The whole job, so that the benchmark compares like with like.

    python benchmarks/gst_ingest.py --store DIR --spool DIR --database URL --site hq \\
        CAMERA=URL [CAMERA=URL ...]

Prints "recording N cameras" once the recorder is ready; on SIGTERM stops the recorder (which
closes every segment in progress), waits for the uploads, and prints one JSON line of counts.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camerahub.db import segments as index  # noqa: E402
from camerahub.db.engine import open_database  # noqa: E402
from camerahub.storage import FileStore, Spool, Uploader  # noqa: E402
from camerahub.storage.base import file_sha256  # noqa: E402
from camerahub.storage.spoolfiles import OpenSidecar, publish  # noqa: E402
from camerahub.video.timing import from_epoch_ms  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--spool", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--site", default="hq")
    parser.add_argument("--upload-workers", type=int, default=8)
    parser.add_argument("cameras", nargs="+", help="CAMERA=URL")
    args = parser.parse_args()
    _, sessions = open_database(args.database)
    store = FileStore(args.store)
    spool = Spool(args.spool)
    counts = {"segments": 0, "indexed": 0, "errors": 0, "refused": 0}
    lock = threading.Lock()

    def on_uploaded(item, key: str, sha256: str) -> None:
        with sessions.begin() as s:
            index.index_segment(s, camera_id=item.camera_id, site_id=item.site,
                                start=item.start_utc, end=item.end_utc, nbytes=item.bytes,
                                sha256=sha256, key=key)
        with lock:
            counts["indexed"] += 1

    def admit(item) -> str | None:
        with sessions() as s:
            other = index.overlapping_segment(s, item.camera_id, item.start_utc,
                                              item.end_utc, item.key)
        return None if other is None else f"overlaps indexed segment {other}"

    def refused(item, reason: str) -> None:
        with lock:
            counts["refused"] += 1

    uploader = Uploader(spool, store, on_uploaded, args.upload_workers, admit=admit,
                        on_quarantine=refused)
    uploader.start()
    gst_out = Path(args.spool) / "gst"
    child = subprocess.Popen(
        [SYSTEM_PYTHON, str(ROOT / "benchmarks" / "gst_recorder.py"), "--out", str(gst_out),
         *args.cameras], stdout=subprocess.PIPE, text=True, bufsize=1)
    signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    signal.signal(signal.SIGINT, lambda *_: child.send_signal(signal.SIGTERM))
    for line in child.stdout:
        msg = json.loads(line)
        if msg["event"] == "ready":
            print(f"recording {msg['cameras']} cameras", flush=True)
        elif msg["event"] == "segment":
            ingest(spool, uploader, args.site, msg)
            counts["segments"] += 1
        elif msg["event"] == "error":
            counts["errors"] += 1  # the product: a gap with a cause, an event, a state
            print(f"gstreamer: {msg['camera']}: {msg['detail']}", file=sys.stderr, flush=True)
    child.wait()
    uploader.wait_idle(120)
    uploader.stop()
    print(json.dumps(counts), flush=True)


def ingest(spool: Spool, uploader: Uploader, site: str, msg: dict) -> None:
    """Commit one closed GStreamer segment into the spool's ready/ the way SpoolSink does."""
    path = Path(msg["path"])
    start = from_epoch_ms(msg["start_ms"])
    opened = OpenSidecar(msg["camera"], site, start)
    sha256, size = file_sha256(path)
    target = spool.ready / f"{site}~{msg['camera']}~{path.parent.name}-{path.stem}.ts"
    item = opened.finished(target, sha256, size, duration_ms=msg["end_ms"] - msg["start_ms"],
                           frames=0, keyframes=0, codec="h264", width=0, height=0)
    publish(path, item)
    uploader.notify(item.path)


if __name__ == "__main__":
    main()
