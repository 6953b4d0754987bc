"""The product's half of an external recording engine: what camerahub does per segment.

Starts the engine and, for every segment it reports closed, does what the product's recorder
does after a segment is written: SHA-256 and size, the ready/ sidecar and the rename into the
spool's ready/ (the commit point, fsynced), then the product's Uploader stores it in the
FileStore under the contract key and the index gets its row (camerahub.db.segments), after
the same overlap admission. The whole job, so that the benchmark compares like with like.

Engines (`--engine`):

- gstreamer: benchmarks/gst_recorder.py under the system interpreter (it has PyGObject; this
  venv has not), all cameras in one process, segments reported as JSON lines;
- ffmpeg: one `ffmpeg -rtsp_transport tcp -i URI -c copy -f segment -segment_time 10
  -segment_list pipe:1 -segment_list_type csv` per camera (the reference's command, telling
  us each closed segment), supervised here: restarted when it exits. Its segment times are
  stream time; each process's first segment anchors them on the wall clock at its receipt
  (end of the first segment = now), so consecutive segments of one process abut exactly.

    python benchmarks/engine_ingest.py --engine gstreamer --store DIR --spool DIR \\
        --database URL --site hq CAMERA=URL [CAMERA=URL ...]

Prints "recording N cameras" once the engine is started; on SIGTERM stops the engine (which
closes every segment in progress), waits for the uploads, and prints one JSON line of counts.
"""

from __future__ import annotations

import argparse
import json
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
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
    parser.add_argument("--engine", choices=("gstreamer", "ffmpeg"), default="gstreamer")
    parser.add_argument("--tuning", default="tuned", help="gst_recorder.py's --tuning")
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
    out = Path(args.spool) / args.engine
    engine = (Gst(out, args.cameras, args.tuning) if args.engine == "gstreamer"
              else Ffmpegs(out, args.cameras))
    signal.signal(signal.SIGTERM, lambda *_: engine.stop())
    signal.signal(signal.SIGINT, lambda *_: engine.stop())
    print(f"recording {len(args.cameras)} cameras", flush=True)
    for msg in engine.events():
        if msg["event"] == "segment":
            ingest(spool, uploader, args.site, msg)
            counts["segments"] += 1
        elif msg["event"] == "error":
            counts["errors"] += 1  # the product: a gap with a cause, an event, a state
            print(f"{args.engine}: {msg['camera']}: {msg['detail']}", file=sys.stderr,
                  flush=True)
    uploader.wait_idle(120)
    uploader.stop()
    print(json.dumps(counts), flush=True)


class Gst:
    """All cameras in one GStreamer process; its JSON lines are the events."""

    def __init__(self, out: Path, cameras: list[str], tuning: str) -> None:
        self.child = subprocess.Popen(
            [SYSTEM_PYTHON, str(ROOT / "benchmarks" / "gst_recorder.py"), "--out", str(out),
             "--tuning", tuning, *cameras], stdout=subprocess.PIPE, text=True, bufsize=1)

    def stop(self) -> None:
        self.child.send_signal(signal.SIGTERM)

    def events(self):
        for line in self.child.stdout:
            yield json.loads(line)
        self.child.wait()


class Ffmpegs:
    """One supervised ffmpeg per camera; each one's segment list (CSV on stdout) is read by
    a thread of its own, and the lines become events on one queue."""

    def __init__(self, out: Path, cameras: list[str]) -> None:
        self.ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
        self.out, self.queue = out, queue.Queue()
        self.stopping = threading.Event()
        self.procs: dict[str, subprocess.Popen] = {}
        self.threads = [threading.Thread(target=self.run, args=tuple(c.split("=", 1)),
                                         daemon=True) for c in cameras]
        for thread in self.threads:
            thread.start()

    def run(self, camera: str, url: str) -> None:
        """Run, read and restart one camera's ffmpeg until stop."""
        folder = self.out / camera
        folder.mkdir(parents=True, exist_ok=True)
        generation = 0
        while not self.stopping.is_set():
            generation += 1
            proc = subprocess.Popen(
                [self.ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
                 "-timeout", "10000000", "-i", url, "-c", "copy", "-f", "segment",
                 "-segment_time", "10", "-segment_list", "pipe:1", "-segment_list_type",
                 "csv", str(folder / f"g{generation:03d}-%05d.ts")],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            self.procs[camera] = proc
            if self.stopping.is_set():
                proc.send_signal(signal.SIGINT)
            anchor_ms = None
            for line in proc.stdout:
                name, start, end = line.strip().rsplit(",", 2)
                start_ms, end_ms = round(float(start) * 1000), round(float(end) * 1000)
                if anchor_ms is None:
                    anchor_ms = time.time_ns() // 1_000_000 - end_ms
                self.queue.put({"event": "segment", "camera": camera,
                                "path": str(folder / name), "start_ms": anchor_ms + start_ms,
                                "end_ms": anchor_ms + end_ms})
            proc.wait()
            if not self.stopping.is_set():
                self.queue.put({"event": "error", "camera": camera,
                                "detail": f"ffmpeg exited with {proc.returncode}"})
                self.stopping.wait(2)
        self.queue.put({"event": "ended", "camera": camera})

    def stop(self) -> None:
        self.stopping.set()
        for proc in list(self.procs.values()):
            proc.send_signal(signal.SIGINT)

    def events(self):
        ended = 0
        while ended < len(self.threads):
            msg = self.queue.get()
            ended += msg["event"] == "ended"
            yield msg


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
