"""Recording engines measured before one is chosen (issue #19, item 2).

On the same simulated cameras (the project's simulator, loopback only), in one run, one after
another for the same duration (`--rounds N` alternates them N times), each keeping today's
segment, spool, key and index contracts with the FileStore:

- camerahub: the recorder as shipped, `camerahub record` with `recorder.engine: rtp` (its
  own RTSP client, one thread reading every camera, H.264 depacketized in Python, PyAV
  muxing; SHA-256, spool, uploader, index): the engine chosen from this comparison;
- pyav: the same recorder reading with FFmpeg's RTSP client (`recorder.engine: pyav`, one
  thread per camera), what the product did before;
- pyav_mp: the same recorder over K worker processes (K = cores) under a small supervisor,
  cameras assigned by a salted hash (benchmarks/pyav_pool.py);
- gstreamer: one `rtspsrc protocols=tcp ! rtph264depay ! h264parse ! splitmuxsink
  muxer-factory=mpegtsmux max-size-time=10s` pipeline per camera in one process of the system
  interpreter (benchmarks/gst_recorder.py), its closed segments hashed, committed into the
  spool, stored and indexed by the product's own Spool and Uploader
  (benchmarks/engine_ingest.py): the whole job; its properties are `tuned` for TCP
  (gst_recorder.py; `gstreamer_default`, not run unless asked, is the pipeline as shipped);
- ffmpeg_engine: what else could record for the product: one ffmpeg per camera (the
  reference's command, plus its segment list on a pipe) supervised by the same ingest as
  GStreamer's, which hashes, commits, stores and indexes each closed segment;
- rtp_py: a prototype of a cheaper reading path (benchmarks/rtp_reader.py): the interleaved
  RTSP/TCP bytes read with large reads, RTP and H.264 depacketized in Python, the access
  units muxed by PyAV into MPEG-TS segments cut on IDRs, SHA-256 per segment, local files
  only like the ffmpeg reference (so compared with it, not with the whole job); one selector
  thread for every camera (`rtp_py_threads`, not run unless asked: one thread per camera);
- references: one `ffmpeg -rtsp_transport tcp -i URI -c copy -f segment -segment_time 10` per
  camera (local files only), and the floor (benchmarks/rtsp_floor.py: the sessions' bytes read
  to nowhere).

CPU seconds per camera-minute come from /proc over each candidate's whole process tree
(utime + stime of every process, plus what they reaped), over a steady window after a
warm-up; memory is the sum of the tree's peak RSS (VmHWM) and, fairer to many processes
sharing libraries, the sum of their proportional set sizes (Pss) at the window's end.
Segments expected, stored (at least 9 s, indexed) and missing, and discontinuities
(consecutive segments of a camera that do not abut) come from each engine's own index.
Afterwards a sample of every engine's segments is checked with ffprobe/ffmpeg: each must
decode without error and begin on a keyframe.

    python benchmarks/record_engines.py --quick                 # camerahub, ffmpeg, floor:
                                                                # 10 cameras, 6 s each
    python benchmarks/record_engines.py --cameras 50 --seconds 60

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import record_bench as rb  # noqa: E402

from simulator.launcher import SimulatorProcess  # noqa: E402
from simulator.testing import isolated_args  # noqa: E402

SUBNET = 77  # 127.0.77.x / 127.0.78.x: this benchmark's own ranges
# camerahub: the recorder as shipped (recorder.engine: rtp, its own RTSP client and one
# reading thread); pyav: the same recorder reading with FFmpeg's RTSP client per camera.
ENGINES = ("camerahub", "pyav", "pyav_mp", "gstreamer", "ffmpeg_engine", "rtp_py", "ffmpeg",
           "floor")
CANDIDATES = ("camerahub", "pyav", "pyav_mp", "gstreamer", "gstreamer_default",
              "ffmpeg_engine")
LOCAL = ("rtp_py", "rtp_py_threads")  # record side only: local files, like the reference
QUICK_ENGINES = ("camerahub", "ffmpeg", "floor")
KNOWN = (*ENGINES, "gstreamer_default", "rtp_py_threads")
log = rb.log


# --- /proc accounting of process trees ------------------------------------------------------

def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def tree(root: int) -> list[int]:
    """root and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_cpu(roots: list[int]) -> dict[int, float]:
    """CPU seconds per process of the trees (utime, stime and reaped children's)."""
    cpu = {}
    for root in roots:
        for pid in tree(root):
            fields = _stat(pid)
            if fields:
                cpu[pid] = sum(int(f) for f in fields[11:15]) / rb.CLK
    return cpu


def pss_mb(pid: int) -> float:
    """Proportional set size of a process (shared pages divided among their sharers), MiB."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_trees(roots: list[int], warmup: float, seconds: float) -> dict:
    """CPU of the trees over a window after a warm-up, per process too; their peak RSS."""
    time.sleep(warmup)
    base = tree_cpu(roots)
    started = time.monotonic()
    time.sleep(seconds)
    after = tree_cpu(roots)
    elapsed = time.monotonic() - started
    per_pid = {pid: v - base.get(pid, 0.0) for pid, v in after.items()}
    rss = pss = 0.0
    for root in roots:
        for pid in tree(root):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                rss += rb.peak_rss_mb(pid)
                pss += pss_mb(pid)
    return {"cpu_s": sum(per_pid.values()), "per_pid": per_pid, "rss_mb": rss,
            "pss_mb": pss, "seconds": elapsed, "processes": len(after)}


# --- the engines ----------------------------------------------------------------------------

def cli(env: dict) -> list[str]:
    return [sys.executable, "-m", "camerahub.cli"]


def prepare(folder: Path, cameras: int, ports: dict, env: dict, engine: str = "pyav"
            ) -> tuple[Path, dict]:
    """A config with a FileStore and a database of the engine's own, cameras applied."""
    folder.mkdir(parents=True)
    data = rb.config(cameras, ports, "", "", folder / "data")
    data["storage"] = {"backend": "file", "file": {"path": str(folder / "store")}}
    data["recorder"]["engine"] = engine
    cfg = folder / "camerahub.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    env = {**env, "CAMERAHUB_DATABASE_URL": f"sqlite:///{folder / 'index.db'}"}
    subprocess.run([*cli(env), "deploy", "apply", "-f", str(cfg)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return cfg, env


def stop(proc: subprocess.Popen, timeout: float = 300) -> str:
    """SIGTERM, wait, and what it printed after its first line."""
    proc.send_signal(signal.SIGTERM)
    out = proc.stdout.read() if proc.stdout else ""
    proc.wait(timeout)
    return out


def run_pyav(folder: Path, cameras: int, ports: dict, env: dict, warmup: float,
             seconds: float, engine: str = "pyav") -> dict:
    cfg, env = prepare(folder, cameras, ports, env, engine)
    proc = subprocess.Popen([*cli(env), "record", "--config", str(cfg)], env=env,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    time.sleep(warmup)  # the per-thread split covers the same window as the total
    threads_before = rb.thread_cpu(proc.pid)
    figures = measure_trees([proc.pid], 0.0, seconds)
    threads = {k: v - threads_before.get(k, 0.0) for k, v in rb.thread_cpu(proc.pid).items()}
    figures["threads"] = threads
    stop(proc)
    return {**figures, "db": env["CAMERAHUB_DATABASE_URL"], "store": folder / "store"}


def run_pyav_mp(folder: Path, cameras: int, ports: dict, env: dict, warmup: float,
                seconds: float, workers: int) -> dict:
    cfg, env = prepare(folder, cameras, ports, env)
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "pyav_pool.py"),
                             "--config", str(cfg), "--workers", str(workers)], env=env,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    figures = measure_trees([proc.pid], warmup, seconds)
    tail = stop(proc).strip().splitlines()
    figures["pool"] = json.loads(tail[-1]) if tail else None
    return {**figures, "db": env["CAMERAHUB_DATABASE_URL"], "store": folder / "store"}


def run_ingested(engine: str, folder: Path, cameras: int, ports: dict, env: dict,
                 urls: list[str], warmup: float, seconds: float, tuning: str = "tuned") -> dict:
    """An external engine (gstreamer, ffmpeg) under benchmarks/engine_ingest.py."""
    cfg, env = prepare(folder, cameras, ports, env)
    pairs = [f"cam-{i:03d}={url}" for i, url in enumerate(urls, start=1)]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "engine_ingest.py"), "--engine", engine,
         "--tuning", tuning, "--store", str(folder / "store"), "--spool",
         str(folder / "data" / "spool"), "--database", env["CAMERAHUB_DATABASE_URL"],
         "--site", "hq", *pairs],
        env=env, stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    figures = measure_trees([proc.pid], warmup, seconds)
    # the split: the engine's processes (C threads) against the product's Python side
    figures["ingest_cpu_s"] = figures["per_pid"].get(proc.pid, 0.0)
    figures["engine_cpu_s"] = figures["cpu_s"] - figures["ingest_cpu_s"]
    tail = stop(proc).strip().splitlines()
    figures["counts"] = json.loads(tail[-1]) if tail else None
    return {**figures, "db": env["CAMERAHUB_DATABASE_URL"], "store": folder / "store"}


def run_ffmpeg(ffmpeg: str, folder: Path, urls: list[str], warmup: float,
               seconds: float) -> dict:
    """The reference: one ffmpeg per camera segmenting into local files, nothing else."""
    procs = []
    for i, url in enumerate(urls):
        (folder / f"cam{i:03d}").mkdir(parents=True)
        procs.append(subprocess.Popen(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
             "-c", "copy", "-f", "segment", "-segment_time", "10",
             str(folder / f"cam{i:03d}" / "%05d.ts")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    figures = measure_trees([p.pid for p in procs], warmup, seconds)
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        p.wait(60)
    return {**figures, "files": folder}


def run_rtp_py(folder: Path, urls: list[str], warmup: float, seconds: float,
               mode: str) -> dict:
    """The prototype reader (benchmarks/rtp_reader.py) segmenting into local files."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "rtp_reader.py"),
                             "--out", str(folder), "--mode", mode, *urls],
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "reading N sessions"
    figures = measure_trees([proc.pid], warmup, seconds)
    tail = stop(proc).strip().splitlines()
    figures["counts"] = json.loads(tail[-1]) if tail else None
    return {**figures, "files": folder}


# --- checks ---------------------------------------------------------------------------------

def ffmpeg_segments(folder: Path, cameras: int, total_s: float) -> dict:
    """Segments of the ffmpeg reference: files of about 10 s are all it leaves (no index)."""
    files = sorted(folder.rglob("*.ts"))
    expected = cameras * max(int(total_s // 10) - 1, 1)
    # every file but each camera's last (cut short by the stop) is a full segment
    per_cam: dict[Path, int] = {}
    for f in files:
        per_cam[f.parent] = per_cam.get(f.parent, 0) + 1
    full = sum(max(n - 1, 0) for n in per_cam.values())
    return {"segments_expected": expected, "segments_stored": full,
            "missing_segments": max(expected - full, 0), "discontinuities": None}


def listed_segments(folder: Path) -> dict:
    """rtp_py's own lists: every listed SHA-256 checked against its file, and consecutive
    segments of a camera that do not abut in stream time counted."""
    checked = bad = holes = 0
    for listing in sorted(folder.rglob("segments.csv")):
        previous_end = None
        for line in listing.read_text(encoding="utf-8").splitlines():
            name, sha, start, duration, _frames = line.split(",")
            checked += 1
            bad += hashlib.sha256((listing.parent / name).read_bytes()).hexdigest() != sha
            if previous_end is not None and abs(int(start) - previous_end) > 1:
                holes += 1
            previous_end = int(start) + round(float(duration) * 90_000)
    return {"sha256_checked": checked, "sha256_mismatch": bad, "discontinuities": holes}


def sample_check(files: list[Path], ffprobe: str, ffmpeg: str, n: int) -> dict:
    """Decode a spread sample of segments: each must decode without a decoder error and
    open on a keyframe; timestamps that do not increase (muxer warnings) are counted."""
    files = [f for f in files if f.stat().st_size > 0]
    if not files:
        return {"checked": 0, "decoded": 0, "keyframe_start": 0, "dts_warnings": 0}
    step = max(len(files) // n, 1)
    sample = files[::step][:n]
    decoded = keyed = dts = 0
    for f in sample:
        first = subprocess.run(
            [ffprobe, "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
             "-show_entries", "frame=key_frame", "-of", "csv=p=0", str(f)],
            capture_output=True, text=True, check=False)
        lines = [line for line in first.stdout.splitlines() if line.strip()]
        keyed += bool(lines) and lines[0].split(",")[0] == "1"
        full = subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-i", str(f), "-map", "0:v",
                               "-f", "null", "-"], capture_output=True, text=True, check=False)
        errors = [e for e in full.stderr.splitlines() if e.strip()]
        muxer = [e for e in errors if e.startswith("[null @")]
        dts += bool(muxer)
        decoded += full.returncode == 0 and len(muxer) == len(errors)
    return {"checked": len(sample), "decoded": decoded, "keyframe_start": keyed,
            "dts_warnings": dts}


# --- main -----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{', '.join(QUICK_ENGINES)} only (unless --engines), 10 cameras, "
                             "6 s each: the benchmark's own check, under a minute")
    parser.add_argument("--cameras", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="worker processes of pyav_mp (default: the cores)")
    parser.add_argument("--sample", type=int, default=5, help="segments checked per engine")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--engines", help=f"comma separated, of {','.join(KNOWN)} (default: "
                                          f"{','.join(ENGINES)})")
    args = parser.parse_args()
    cameras = args.cameras or (10 if args.quick else 100)
    seconds = args.seconds or (6.0 if args.quick else 60.0)
    warmup = 2.0 if args.quick else 15.0
    size, bitrate = ("1280x720", "2M") if args.quick else ("1920x1080", "3M")
    chosen = args.engines or ",".join(QUICK_ENGINES if args.quick else ENGINES)
    engines = [e for e in chosen.split(",") if e]
    ffmpeg, ffmpeg_note = rb.find_tool("ffmpeg")
    ffprobe = shutil.which("ffprobe")
    log(ffmpeg_note)
    if not Path("/usr/bin/python3").exists():
        raise SystemExit("gstreamer needs Debian's python3 with python3-gi")
    work = Path(tempfile.mkdtemp(prefix="record-engines-"))
    sim_args, ports = isolated_args(SUBNET)
    sim = SimulatorProcess([*sim_args, "--cameras", str(cameras), "--hq", str(cameras),
                            "--main-size", size, "--bitrate", bitrate])
    log(f"simulator ready: {cameras} cameras at {size} {bitrate} in "
        f"{sim.wait_ready(600):.1f} s")
    env = {**os.environ, "CAMERAHUB_CAMERA_PASSWORD": "admin",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH"))
                                         if p)}
    urls = rb.camera_urls(ports, cameras)
    runs: dict[str, list[dict]] = {e: [] for e in KNOWN}
    try:
        for n in range(args.rounds):
            for engine in engines:
                folder = work / f"round{n}" / engine
                log(f"round {n + 1}: {engine}, {cameras} cameras, {warmup:.0f} s warm-up + "
                    f"{seconds:.0f} s measured")
                if engine in ("camerahub", "pyav"):
                    run = run_pyav(folder, cameras, ports, env, warmup, seconds,
                                   "rtp" if engine == "camerahub" else "pyav")
                elif engine == "pyav_mp":
                    run = run_pyav_mp(folder, cameras, ports, env, warmup, seconds,
                                      args.workers)
                elif engine in ("gstreamer", "gstreamer_default"):
                    run = run_ingested("gstreamer", folder, cameras, ports, env, urls, warmup,
                                       seconds, engine.removeprefix("gstreamer_") if
                                       engine != "gstreamer" else "tuned")
                elif engine == "ffmpeg_engine" and ffmpeg:
                    run = run_ingested("ffmpeg", folder, cameras, ports, env, urls, warmup,
                                       seconds)
                elif engine == "ffmpeg" and ffmpeg:
                    run = run_ffmpeg(ffmpeg, folder, urls, warmup, seconds)
                elif engine in LOCAL:
                    run = run_rtp_py(folder, urls, warmup, seconds,
                                     "threads" if engine == "rtp_py_threads" else "selector")
                elif engine == "floor":
                    run = rb.run_floor(urls, warmup, seconds)
                else:
                    continue
                log(f"  {run['cpu_s']:.1f} CPU s in {run['seconds']:.1f} s")
                runs[engine].append(run)
        sim.stop()
        result = summarize(runs, cameras, warmup, seconds, args, size, bitrate,
                           ffmpeg, ffprobe, ffmpeg_note)
    finally:
        sim.stop()
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False))


def summarize(runs: dict[str, list[dict]], cameras: int, warmup: float, seconds: float,
              args: argparse.Namespace, size: str, bitrate: str, ffmpeg: str | None,
              ffprobe: str | None, ffmpeg_note: str) -> dict:
    rounded = lambda v: round(v, 3) if v is not None else None  # noqa: E731
    cpu = {e: rb.per_camera_minute(r, cameras) for e, r in runs.items()}
    result: dict = {"cameras": cameras, "seconds": seconds, "warmup_s": warmup,
                    "rounds": args.rounds, "main_stream": f"{size}@{bitrate}",
                    "store": "file", "workers": args.workers}
    ran = [e for e in KNOWN if runs[e]]
    for e in ran:
        result[f"{e}_cpu_s_per_camera_minute"] = rounded(cpu[e])
    for e in (*CANDIDATES, *LOCAL):
        if not runs[e]:
            continue
        result[f"{e}_cpu_ratio_vs_ffmpeg"] = rb.ratio(cpu[e], cpu["ffmpeg"])
        result[f"{e}_cpu_ratio_vs_floor"] = rb.ratio(cpu[e], cpu["floor"])
    result["ffmpeg_cpu_ratio_vs_floor"] = rb.ratio(cpu["ffmpeg"], cpu["floor"])
    for e in (*CANDIDATES, *LOCAL, "ffmpeg"):
        if runs[e]:
            result[f"{e}_rss_mb"] = round(max(r["rss_mb"] for r in runs[e]), 1)
            result[f"{e}_pss_mb"] = round(max(r.get("pss_mb", 0.0) for r in runs[e]), 1)
            result[f"{e}_processes"] = runs[e][0].get("processes", cameras)
    minutes = lambda e: cameras * sum(r["seconds"] for r in runs[e]) / 60  # noqa: E731
    for e in ("camerahub", "pyav"):
        if runs[e]:
            for group in ("rec", "upload", "other"):
                result[f"{e}_{group}_threads_cpu_s_per_camera_minute"] = round(
                    sum(r["threads"].get(group, 0.0) for r in runs[e]) / minutes(e), 3)
    for e in ("gstreamer", "gstreamer_default", "ffmpeg_engine"):
        if runs[e]:
            result[f"{e}_engine_process_cpu_s_per_camera_minute"] = round(
                sum(r["engine_cpu_s"] for r in runs[e]) / minutes(e), 3)
            result[f"{e}_python_ingest_cpu_s_per_camera_minute"] = round(
                sum(r["ingest_cpu_s"] for r in runs[e]) / minutes(e), 3)
            result[f"{e}_counts"] = runs[e][0]["counts"]
    for e in LOCAL:
        if runs[e]:
            result[f"{e}_counts"] = runs[e][0]["counts"]
    if runs["pyav_mp"]:
        result["pyav_mp_pool"] = runs["pyav_mp"][0]["pool"]
    total = warmup + seconds
    for e in CANDIDATES:
        if runs[e]:
            figs = rb.segment_figures(runs[e][0]["db"], cameras, total)
            for key in ("segments_expected", "segments_stored", "missing_segments",
                        "discontinuities"):
                result[f"{e}_{key}"] = figs[key]
            result[f"{e}_upload_lag_p99_s"] = figs["upload_lag_p99_s"]
    for e in ("ffmpeg", *LOCAL):
        if runs[e]:
            figs = ffmpeg_segments(runs[e][0]["files"], cameras, total)
            for key in ("segments_expected", "segments_stored", "missing_segments"):
                result[f"{e}_{key}"] = figs[key]
    for e in LOCAL:
        if runs[e]:
            figs = listed_segments(runs[e][0]["files"])
            for key, value in figs.items():
                result[f"{e}_{key}"] = value
    if ffprobe and ffmpeg:
        for e in (*CANDIDATES, *LOCAL, "ffmpeg"):
            if runs[e]:
                where = runs[e][0].get("store")
                where = where / "data" if where else runs[e][0]["files"]
                check = sample_check(sorted(where.rglob("*.ts")), ffprobe, ffmpeg, args.sample)
                result[f"{e}_sample_decoded"] = f"{check['decoded']}/{check['checked']}"
                result[f"{e}_sample_keyframe_start"] = (
                    f"{check['keyframe_start']}/{check['checked']}")
                result[f"{e}_sample_nonmonotonic_dts"] = (
                    f"{check['dts_warnings']}/{check['checked']}")
    if runs["floor"] and runs["floor"][0].get("bytes"):
        result["floor_bytes_per_camera_s"] = round(
            runs["floor"][0]["bytes"] / cameras / runs["floor"][0]["seconds"])
    result["ffmpeg"] = ffmpeg_note
    return result


if __name__ == "__main__":
    main()
