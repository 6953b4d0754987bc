"""PyAV recorder over K worker processes under a small supervisor (issue #19, engine b).

A prototype, kept out of camerahub/ until it wins: each worker is today's `camerahub record`
for its share of the cameras (one interpreter lock each), with a data directory (so a spool)
of its own and the shared database and store. Cameras are assigned by a salted hash of their
id, independent of `--shard`'s unsalted one, so that the workers of one shard still share its
cameras out evenly. The supervisor restarts a worker that dies and forwards SIGTERM/SIGINT.

    python benchmarks/pyav_pool.py --config camerahub.yaml [--workers K] [--salt S]

Prints "recording N cameras in K workers" once every worker is recording; at exit one JSON
line with the assignment and the restarts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SALT = "camerahub-record-pool"
POLL_S = 1.0


def worker_of(camera_id: str, workers: int, salt: str = SALT) -> int:
    """The worker a camera belongs to: a salted hash (not shard_of's), stable across runs."""
    digest = hashlib.sha256(f"{salt}\0{camera_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % workers


class Pool:
    """K `camerahub record` workers, each with its own config (data directory) and cameras."""

    def __init__(self, config: Path, workers: int, salt: str) -> None:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
        ids = [c["id"] for c in data["cameras"] if c.get("recording_enabled", True)]
        self.assigned: list[list[str]] = [[] for _ in range(workers)]
        for cam in ids:
            self.assigned[worker_of(cam, workers, salt)].append(cam)
        base = Path(data.get("data_dir") or config.parent / "var")
        self.configs = []
        for k in range(workers):
            mine = dict(data, data_dir=str(base / f"worker-{k}"))
            path = config.with_name(f"{config.stem}.worker-{k}.yaml")
            path.write_text(yaml.safe_dump(mine, allow_unicode=True), encoding="utf-8")
            self.configs.append(path)
        self.procs: list[subprocess.Popen | None] = [None] * workers
        self.restarts = [0] * workers
        self.stopping = threading.Event()

    def spawn(self, k: int) -> subprocess.Popen | None:
        if not self.assigned[k]:
            return None
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "camerahub.cli", "record", "--config", str(self.configs[k]),
             "--cameras", ",".join(self.assigned[k])], env=env, stdout=subprocess.PIPE,
            text=True)
        self.procs[k] = proc
        return proc

    def run(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        started = [self.spawn(k) for k in range(len(self.procs))]
        for proc in started:
            if proc is not None:
                proc.stdout.readline()  # "recording N cameras": its threads have started
        print(f"recording {sum(map(len, self.assigned))} cameras in {len(self.procs)} workers",
              flush=True)
        while not self.stopping.wait(POLL_S):
            for k, proc in enumerate(self.procs):
                if proc is not None and proc.poll() is not None:
                    print(f"worker {k} exited with {proc.returncode}; restarting",
                          file=sys.stderr, flush=True)
                    self.restarts[k] += 1
                    self.spawn(k)
        live = [p for p in self.procs if p is not None]
        for proc in live:
            proc.send_signal(signal.SIGTERM)
        for proc in live:
            proc.wait(300)
        print(json.dumps({"workers": len(self.procs),
                          "cameras_per_worker": [len(a) for a in self.assigned],
                          "restarts": self.restarts}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--salt", default=SALT)
    args = parser.parse_args()
    Pool(args.config.resolve(), args.workers, args.salt).run()


if __name__ == "__main__":
    main()
