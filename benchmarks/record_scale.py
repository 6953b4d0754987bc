"""How many cameras this node records: camerahub and one ffmpeg per camera, ramped up.

For each step (100, 200, 300, ... cameras at 1080p 3 Mbit/s by default) a simulator serves
that many cameras and each candidate records them for the window on the FileStore:

- camerahub runs as one `camerahub record --shard I/N` process per core (N = `--processes`,
  the cores by default), each with its own spool (CAMERAHUB_DATA_DIR), as a node uses its
  cores (one interpreter lock per process); it holds a step when the stored segments of
  every camera cover the whole window (but its last 10 s, as for ffmpeg), with no
  discontinuity, and the upload lag did not
  keep growing while recording (the last segments' lag is not more than twice the first
  ones' plus 2 s; the segments every camera closes at once when told to stop are left out);
- ffmpeg holds a step when every camera's ffmpeg closed a segment file every 10 s of the
  window and no frame is missing from those files: their frames' timestamps run on one
  frame interval at a time, across the files too. ffmpeg's RTSP client says nothing when
  RTP packets are lost over TCP (it joins what it got), and a starved simulator skips
  frames, so files closed on time are not enough: by the same standard as camerahub's,
  a frame missing from the footage is a step not held.

Both run `--warmup` seconds (20) before the window: opening hundreds of cameras (camerahub
asks each for its stream over ONVIF, a few at a time; ffmpeg is handed the URLs) is start-up,
not what the node holds.

The ramp stops for a candidate at its first step not held; the figures are the most cameras
each held (`max_cameras`, `ffmpeg_max_cameras`).

The simulated cameras run on the same two cores. At normal priority (the default) a
candidate that saturates the node starves them, and a starved simulator skips frames that
the candidate is judged for: beside 300 ffmpeg processes it got 18 % of a core and a fifth
of the frames went missing. With `--cameras-first` the simulator's threads run in the
real-time class (record_bench.cameras_first) and send on time, but then cost the node
more, and more for camerahub's large paused reads than for ffmpeg's. Real cameras pay
their own CPU; neither way is the fleet's, so a comparison should be run both ways. Each
step reports the CPU the candidate and the simulator used over the window, in percent of
one core.

    python benchmarks/record_scale.py                   # 100, 200, 300 ... for 60 s each
    python benchmarks/record_scale.py --quick           # 10 at 720p, 2 s segments, 6 s
    python benchmarks/record_scale.py --steps 100,300,500

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import yaml
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from record_bench import (  # noqa: E402
    camera_urls,
    config,
    cpu_seconds,
    find_tool,
    log,
    start_simulator,
)

from camerahub.db import models as m  # noqa: E402
from camerahub.db.engine import open_database  # noqa: E402

SEGMENT_S = 10  # both candidates' segment length (--quick: QUICK_SEGMENT_S)
QUICK_SEGMENT_S = 2  # the simulator's GOP is 1 s
# Both candidates start, then run this long before the measured window: a recorder opening
# hundreds of cameras (camerahub asks each for its stream over ONVIF, a few at a time; ffmpeg
# is handed the URLs) is not what the node can hold in steady state. What is judged is the
# window: camerahub's stored segments must cover all of it for every camera, and every
# ffmpeg must have closed a segment file every SEGMENT_S during it with no frame missing.
WARMUP_S = 20.0


def whole_segments(seconds: float, segment_s: int = SEGMENT_S) -> int:
    """Whole segments every camera must have stored in a window (the first and last may be
    partial: a recorder starts and stops mid-segment)."""
    return max(int(seconds // segment_s) - 1, 1)


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds of processes (0 for one that is gone)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def window(pids: list[int], sim_pid: int, seconds: float) -> dict:
    """Wait `seconds`; CPU of the candidate's processes and of the simulator meanwhile."""
    before, sim_before, start = tree_cpu(pids), tree_cpu([sim_pid]), time.monotonic()
    time.sleep(seconds)
    took = time.monotonic() - start
    return {"cpu_percent_one_core": round(100 * (tree_cpu(pids) - before) / took, 1),
            "simulator_cpu_percent_one_core": round(
                100 * (tree_cpu([sim_pid]) - sim_before) / took, 1)}


def camerahub_step(cameras: int, ports: dict, seconds: float, work: Path,
                   sim_pid: int, processes: int, warmup: float = WARMUP_S,
                   segment_s: int = SEGMENT_S) -> dict:
    cfg = config(cameras, ports, "http://127.0.0.1:9", "unused", work / "data", segment_s)
    cfg["storage"] = {"backend": "file", "file": {"path": str(work / "store")}}
    cfg_path = work / "scale.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    db_url = f"sqlite:///{work / 'scale.db'}"
    env = {**os.environ, "CAMERAHUB_CAMERA_PASSWORD": "admin", "CAMERAHUB_DATABASE_URL": db_url}
    cli = [sys.executable, "-m", "camerahub.cli"]
    subprocess.run([*cli, "deploy", "apply", "-f", str(cfg_path)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    procs = [subprocess.Popen([*cli, "record", "--config", str(cfg_path),
                               "--shard", f"{i}/{processes}"],
                              env={**env, "CAMERAHUB_DATA_DIR": str(work / f"data-{i}")},
                              stdout=subprocess.PIPE, text=True) for i in range(processes)]
    for proc in procs:
        proc.stdout.readline()
    time.sleep(warmup)
    started = datetime.now(UTC)
    cpu = window([p.pid for p in procs], sim_pid, seconds)
    stopped = datetime.now(UTC)
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(600)
    _, sessions = open_database(db_url)
    with sessions() as s:
        segs = list(s.scalars(select(m.Segment).order_by(m.Segment.camera_id, m.Segment.start)))
    by_cam: dict[str, list] = {}
    for seg in segs:
        by_cam.setdefault(seg.camera_id, []).append(seg)
    # footage missing from the window, per camera, in segments' worth (rounded up); as for
    # ffmpeg, whose file in progress at the stop is not judged, the last segment is left
    # out
    until = stopped - timedelta(seconds=segment_s)
    span = (until - started).total_seconds()
    short = (cameras - len(by_cam)) * math.ceil(span / segment_s)
    for mine in by_cam.values():
        covered = sum(max(0.0, (min(_utc(x.end), until) - max(_utc(x.start), started))
                          .total_seconds()) for x in mine)
        short += math.ceil(max(0.0, span - covered - 0.5) / segment_s)
    holes = sum(1 for mine in by_cam.values() for a, b in zip(mine, mine[1:], strict=False)
                if (b.start - a.end).total_seconds() > 0.002)
    # upload lag while recording: the segments every camera closes at once when told to stop
    # are a burst of their own, not a trend
    lags = [(x.stored_at - x.end).total_seconds() for x in sorted(segs, key=lambda x: x.end)
            if _utc(x.stored_at) < stopped]
    tenth = max(len(lags) // 10, 1)
    first = sum(lags[:tenth]) / tenth if lags else 0.0
    last = sum(lags[-tenth:]) / tenth if lags else 0.0
    growing = last > 2 * first + 2.0
    return {"cameras": cameras, "missing_segments": short, "discontinuities": holes,
            "lag_first_s": round(first, 2), "lag_last_s": round(last, 2),
            "lag_growing": growing, **cpu,
            "held": short == 0 and holes == 0 and not growing}


def _utc(moment: datetime) -> datetime:
    """A database time as an aware UTC datetime (SQLite gives naive UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ffmpeg_step(ffmpeg: str, cameras: int, ports: dict, seconds: float, work: Path,
                sim_pid: int, warmup: float = WARMUP_S, segment_s: int = SEGMENT_S) -> dict:
    procs = []
    for i, url in enumerate(camera_urls(ports, cameras), start=1):
        folder = work / f"cam{i:03d}"
        folder.mkdir(parents=True)
        procs.append(subprocess.Popen(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
             "-c", "copy", "-f", "segment", "-segment_time", str(segment_s),
             str(folder / "%05d.ts")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(warmup)
    started = time.time()
    cpu = window([p.pid for p in procs], sim_pid, seconds)
    stopped = time.time()
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
    need = whole_segments(seconds, segment_s)
    short = missing = backwards = cameras_missing = 0
    for i in range(1, cameras + 1):
        files = sorted((work / f"cam{i:03d}").glob("*.ts"))
        # every file but the last is a closed segment; count those closed (last written)
        # during the window
        closed = [f for f in files[:-1] if started <= f.stat().st_mtime <= stopped]
        short += max(need - len(closed), 0)
        gaps = missing_frames(closed)
        missing += gaps["missing_frames"]
        backwards += gaps["backwards"]
        cameras_missing += int(gaps["missing_frames"] > 0 or gaps["backwards"] > 0)
    return {"cameras": cameras, "missing_segments": short, "missing_frames": missing,
            "cameras_missing_frames": cameras_missing, "backwards": backwards, **cpu,
            "held": short == 0 and missing == 0 and backwards == 0}


def missing_frames(files: list[Path]) -> dict[str, int]:
    """Frames missing from one camera's consecutive segment files: every step between two
    frames' decoding timestamps beyond the stream's frame interval (its most common step)
    counts the frames it skips; a step backwards is counted apart. The files are demuxed,
    not decoded."""
    dts: list[int] = []
    for path in files:
        try:
            with av.open(str(path)) as container:
                dts.extend(p.dts for p in container.demux(video=0) if p.dts is not None)
        except (av.error.FFmpegError, IndexError):
            return {"missing_frames": 1, "backwards": 0}  # a file that does not demux
    steps = [b - a for a, b in zip(dts, dts[1:], strict=False)]
    positive = [d for d in steps if d > 0]
    if not positive:
        return {"missing_frames": 0, "backwards": 0}
    interval = statistics.mode(positive)
    missing = sum(round(d / interval) - 1 for d in positive if d > 1.5 * interval)
    return {"missing_frames": missing, "backwards": sum(1 for d in steps if d < 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one step of 10 cameras at 720p, 2 s segments, 6 s window: "
                             "the benchmark's own check, under a minute")
    parser.add_argument("--steps", help="comma-separated camera counts")
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--warmup", type=float,
                        help=f"seconds before each window ({WARMUP_S:.0f}; --quick 2)")
    parser.add_argument("--max-cameras", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="camerahub record processes (shards), one per core by default")
    parser.add_argument("--cameras-first", action="store_true",
                        help="run the simulator's threads in the real-time class")
    args = parser.parse_args()
    if args.steps:
        steps = [int(x) for x in args.steps.split(",")]
    elif args.quick:
        steps = [10]
    else:
        steps = list(range(100, args.max_cameras + 1, 100))
    seconds = args.seconds or (6.0 if args.quick else 60.0)
    warmup = args.warmup if args.warmup is not None else (2.0 if args.quick else WARMUP_S)
    segment_s = QUICK_SEGMENT_S if args.quick else SEGMENT_S
    size, bitrate = ("1280x720", "2M") if args.quick else ("1920x1080", "3M")
    ffmpeg, note = find_tool("ffmpeg")
    results: dict[str, list[dict]] = {"camerahub": [], "ffmpeg": []}
    alive = {"camerahub": True, "ffmpeg": ffmpeg is not None}
    for cameras in steps:
        if not any(alive.values()):
            break
        sim, ports = start_simulator(cameras, size, bitrate, args.cameras_first)
        try:
            for name in ("camerahub", "ffmpeg"):
                if not alive[name]:
                    continue
                work = Path(tempfile.mkdtemp(prefix=f"record-scale-{name}-"))
                try:
                    log(f"{name}: {cameras} cameras for {seconds:.0f} s")
                    step = (camerahub_step(cameras, ports, seconds, work, sim.proc.pid,
                                           args.processes, warmup, segment_s)
                            if name == "camerahub" else
                            ffmpeg_step(ffmpeg, cameras, ports, seconds, work, sim.proc.pid,
                                        warmup, segment_s))
                finally:
                    shutil.rmtree(work, ignore_errors=True)
                log(f"  {step}")
                results[name].append(step)
                alive[name] = step["held"]
        finally:
            sim.stop()

    def most(name: str) -> int:
        return max((s["cameras"] for s in results[name] if s["held"]), default=0)

    print(json.dumps({"main_stream": f"{size}@{bitrate}", "seconds": seconds,
                      "warmup_s": warmup, "segment_s": segment_s, "store": "file",
                      "processes": args.processes, "cameras_first": args.cameras_first,
                      "max_cameras": most("camerahub"), "ffmpeg_max_cameras": most("ffmpeg"),
                      # False: every step tried was held, so the limit lies beyond them
                      "limit_found": not alive["camerahub"],
                      "ffmpeg_limit_found": not alive["ffmpeg"],
                      "steps": results, "ffmpeg": note}, ensure_ascii=False))


if __name__ == "__main__":
    main()
