"""Recording cost: camerahub against what users would run instead, and against the floor.

Four candidates record the same simulated cameras (main stream at a realistic bitrate) over
RTSP/TCP in one run, one after another (`--rounds N` alternates them N times):

- camerahub: `camerahub record` (its own RTSP client and one reading thread, stream copy
  muxed by PyAV, SHA-256, upload, index), one process;
- ffmpeg: one `ffmpeg -rtsp_transport tcp -i URI -c copy -f segment -segment_time 10` per
  camera, writing local files only (the record-side reference);
- ffmpeg + rclone: the same, plus Debian's `rclone move --checksum` every 10 s moving the
  finished segments to the same store (what users of the leading open-source NVR do to get
  footage into S3-compatible storage; the whole-job reference);
- floor: reading the same RTSP sessions' bytes to nowhere with large reads
  (benchmarks/rtsp_floor.py): what no recorder of these streams can undercut.

CPU seconds per camera-minute come from /proc (utime + stime, plus waited-for children for
rclone's loop), peak memory from VmHWM. With `--store s3` the store is a moto server in a
process of its own pinned to the last core with taskset (its Python server would otherwise
take most of a core from whichever candidate runs); its CPU is not counted. `--store file`
uses the FileStore (rclone moves into a local folder).

    python benchmarks/record_bench.py               # 100 cameras at 1080p 3 Mbit/s, 60 s each
    python benchmarks/record_bench.py --store file
    python benchmarks/record_bench.py --quick       # 10 cameras, 720p 2 Mbit/s, 2 s segments,
                                                    # 6 s each: under a minute in all

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import yaml
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camerahub.db import models as m  # noqa: E402
from camerahub.db.engine import open_database  # noqa: E402
from camerahub.storage.s3store import S3Settings, make_client  # noqa: E402
from simulator.launcher import SimulatorProcess  # noqa: E402
from simulator.testing import free_port, isolated_args  # noqa: E402

CLK = os.sysconf("SC_CLK_TCK")
SUBNET = 71
SEGMENT_S = 10  # every candidate's segment length (--quick: QUICK_SEGMENT_S)
QUICK_SEGMENT_S = 2  # the simulator's GOP is 1 s


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and of its children it has waited for, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / CLK


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def find_tool(name: str) -> tuple[str | None, str]:
    """A Debian tool (ffmpeg, rclone) on PATH, else install its package when we are root;
    and what happened. A fresh machine has neither: the references must not go missing."""
    path = shutil.which(name)
    if path:
        return path, "found on PATH"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"{name} not found: installing Debian's {name} package (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", name], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        path = shutil.which(name)
        if path:
            return path, f"installed from Debian's {name} package"
    return None, f"{name} unavailable (not on PATH and could not install Debian's {name})"


def start_simulator(cameras: int, size: str, bitrate: str,
                    first: bool = False) -> tuple[SimulatorProcess, dict]:
    """The simulated cameras, ready; with `first`, their threads run before the candidates'
    (cameras_first)."""
    args, ports = isolated_args(SUBNET)
    proc = SimulatorProcess([*args, "--cameras", str(cameras), "--hq", str(cameras),
                             "--main-size", size, "--bitrate", bitrate])
    ready = proc.wait_ready(600)
    how = cameras_first(proc.pid) if first else "the simulator runs at normal priority"
    log(f"simulator ready: {cameras} cameras at {size} {bitrate} in {ready:.1f} s; {how}")
    return proc, ports


def cameras_first(pid: int) -> str:
    """Run the simulator's threads in the real-time class (round robin, lowest priority),
    where the kernel allows it; what was done.

    The cameras are not on the recording node in real life. Simulated on its cores at
    normal priority, they are starved by a candidate that saturates them, more so by one of
    many processes (the scheduler shares by task: beside 300 ffmpeg processes the simulator
    got 18 % of a core), and a starved simulator skips frames, which the candidate is then
    judged for. Run first, the cameras send on time whatever the candidate does; but the
    simulator then also costs the node more, and more for a candidate that reads in large
    pauses (55 % of a core serving camerahub's 300 cameras, 44 % serving ffmpeg's), which
    real cameras would pay themselves. Neither way is the fleet's: record_scale runs
    either (`--cameras-first`). Linux caps real-time tasks at 95 % of each core
    (kernel.sched_rt_runtime_us)."""
    done = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setscheduler(int(tid), os.SCHED_RR, os.sched_param(1))
            done += 1
        except (PermissionError, ProcessLookupError, OSError):
            continue
    return ("the simulator's threads run first (SCHED_RR 1)" if done else
            "the simulator runs at normal priority (real-time scheduling not permitted)")


def address(ports: dict, i: int) -> str:
    """The loopback address of simulated camera i (1-based): the simulator counts on from
    its base across octets, so camera 256 of 127.0.71.1 is 127.0.72.0."""
    return str(ipaddress.IPv4Address(ports["hq_base"]) + i - 1)


def camera_urls(ports: dict, cameras: int) -> list[str]:
    """The main-stream RTSP URLs of the simulator's first `cameras` cameras."""
    return [f"rtsp://admin:admin@{address(ports, i)}:{ports['rtsp_port']}/main"
            for i in range(1, cameras + 1)]


def config(cameras: int, ports: dict, endpoint: str, bucket: str, data: Path,
           segment_s: int = SEGMENT_S) -> dict:
    return {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"}],
        "org": {"departments": [{"id": "d", "name": "部", "divisions": [
            {"id": "v", "name": "分野", "rooms": [{"id": "r", "name": "室", "site": "hq"}]}]}]},
        "credentials": [{"id": "cam", "username": "admin",
                         "password_env": "CAMERAHUB_CAMERA_PASSWORD"}],
        "defaults": {"port": ports["port"], "credential": "cam"},
        "cameras": [{"id": f"cam-{i:03d}", "name": f"カメラ{i}", "site": "hq", "room": "r",
                     "address": address(ports, i)} for i in range(1, cameras + 1)],
        "storage": {"backend": "s3", "s3": {"bucket": bucket, "endpoint_url": endpoint,
                                            "path_style": True, "region": "us-east-1"}},
        "recorder": {"segment_seconds": segment_s, "upload_workers": 8},
        "data_dir": str(data),
    }


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread-name group (rec-*, upload-*, other) of one process."""
    groups: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue  # the thread ended between listing and reading
        group = name.split("-", 1)[0] if name.startswith(("rec-", "upload-")) else "other"
        groups[group] = groups.get(group, 0.0) + (int(fields[11]) + int(fields[12])) / CLK
    return groups


def measure(pids: list[int], warmup: float, seconds: float) -> dict:
    """CPU over a steady-state window after a warm-up (start-up costs are not recording)."""
    time.sleep(warmup)
    base = sum(cpu_seconds(p) for p in pids)
    base_threads = thread_cpu(pids[0]) if len(pids) == 1 else {}
    started = time.monotonic()
    time.sleep(seconds)
    cpu = sum(cpu_seconds(p) for p in pids) - base
    threads = {}
    if len(pids) == 1:
        after = thread_cpu(pids[0])
        threads = {k: v - base_threads.get(k, 0.0) for k, v in after.items()}
    return {"cpu_s": cpu, "rss_mb": sum(peak_rss_mb(p) for p in pids),
            "seconds": time.monotonic() - started, "threads": threads}


def run_camerahub(cfg_path: Path, env: dict, warmup: float, seconds: float) -> dict:
    cli = [sys.executable, "-m", "camerahub.cli"]
    subprocess.run([*cli, "deploy", "apply", "-f", str(cfg_path)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    proc = subprocess.Popen([*cli, "record", "--config", str(cfg_path)], env=env,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "recording N cameras": every camera thread has started
    figures = measure([proc.pid], warmup, seconds)
    proc.send_signal(signal.SIGTERM)
    proc.wait(300)
    return figures


def start_moto(port: int) -> subprocess.Popen:
    """moto's S3 server in a process of its own, pinned to the last core when possible."""
    cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    last = max(os.sched_getaffinity(0))
    if shutil.which("taskset") and len(os.sched_getaffinity(0)) > 1:
        cmd = ["taskset", "-c", str(last), *cmd]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_moto(proc: subprocess.Popen, port: int) -> None:
    """Until moto's server answers on its port (it starts while the simulator does)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("moto server did not start")


def rclone_env(store: str, endpoint: str) -> dict:
    """An rclone remote named `bench` for the store, from environment variables only."""
    if store == "file":
        return {}
    return {"RCLONE_CONFIG_BENCH_TYPE": "s3", "RCLONE_CONFIG_BENCH_PROVIDER": "Other",
            "RCLONE_CONFIG_BENCH_ENDPOINT": endpoint, "RCLONE_CONFIG_BENCH_REGION": "us-east-1",
            "RCLONE_CONFIG_BENCH_ACCESS_KEY_ID": "bench",
            "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY": "bench",
            "RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE": "true",
            # the endpoint is plain HTTP on loopback; rclone's S3 client refuses to start at
            # all when AWS_CA_BUNDLE is set (as some machines set it for every tool)
            "AWS_CA_BUNDLE": ""}


def run_ffmpeg(ffmpeg: str, urls: list[str], warmup: float, seconds: float, out: Path,
               mover: list[str] | None = None, mover_env: dict | None = None,
               segment_s: int = SEGMENT_S) -> dict:
    """One ffmpeg per camera segmenting into out/camNNN; with `mover`, also a shell loop
    running it every segment (its CPU, children included, is counted with ffmpeg's)."""
    procs = []
    for i, url in enumerate(urls):
        folder = out / f"cam{i:03d}"
        folder.mkdir(parents=True)
        procs.append(subprocess.Popen(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
             "-c", "copy", "-f", "segment", "-segment_time", str(segment_s),
             str(folder / "%05d.ts")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    loop = None
    if mover:
        script = f"while true; do {shlex.join(mover)} >/dev/null 2>&1; sleep {segment_s}; done"
        loop = subprocess.Popen(["bash", "-c", script], env={**os.environ, **(mover_env or {})},
                                start_new_session=True)
    figures = measure([p.pid for p in procs] + ([loop.pid] if loop else []), warmup, seconds)
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        p.wait(60)
    if loop:
        os.killpg(loop.pid, signal.SIGTERM)
        loop.wait(60)
        figures["left_behind"] = sum(1 for _ in out.rglob("*.ts"))  # not (yet) moved
    return figures


def run_floor(urls: list[str], warmup: float, seconds: float) -> dict:
    """The floor reader on the same sessions."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "rtsp_floor.py"), *urls],
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()  # "reading N sessions"
    figures = measure([proc.pid], warmup, seconds)
    proc.send_signal(signal.SIGTERM)
    last = proc.stdout.read().strip().splitlines()
    proc.wait(60)
    figures["bytes"] = json.loads(last[-1])["bytes"] if last else None
    return figures


def segment_figures(db_url: str, cameras: int, seconds: float,
                    segment_s: int = SEGMENT_S) -> dict:
    _, sessions = open_database(db_url)
    with sessions() as s:
        segs = list(s.scalars(select(m.Segment).order_by(m.Segment.camera_id, m.Segment.start)))
    lags = sorted((x.stored_at - x.end).total_seconds() for x in segs)
    holes = 0
    by_cam: dict[str, list] = {}
    for seg in segs:
        by_cam.setdefault(seg.camera_id, []).append(seg)
    for mine in by_cam.values():
        holes += sum(1 for a, b in zip(mine, mine[1:], strict=False)
                     if b.start - a.end > timedelta(milliseconds=2))
    full = [x for x in segs if x.duration_ms >= segment_s * 900]
    expected = cameras * max(int(seconds // segment_s) - 1, 1)
    missing = max(expected - len(full), 0) + holes + (cameras - len(by_cam)) * 0
    with sessions() as s:  # why: the recorder's own account of every hole
        gaps = list(s.scalars(select(m.Gap)))
    causes: dict[str, int] = {}
    for gap in gaps:
        causes[gap.cause] = causes.get(gap.cause, 0) + 1
    sizes = sorted(((g.end or g.start) - g.start).total_seconds() for g in gaps)
    return {"segments_expected": expected, "segments_stored": len(full),
            "missing_segments": missing, "discontinuities": holes,
            "gap_causes": causes, "gap_max_s": round(sizes[-1], 3) if sizes else None,
            "gap_details": sorted({(g.detail or "")[:120] for g in gaps})[:3],
            "upload_lag_p50_s": round(statistics.median(lags), 3) if lags else None,
            "upload_lag_p99_s": round(lags[int(0.99 * (len(lags) - 1))], 3) if lags else None}


def per_camera_minute(runs: list[dict], cameras: int) -> float | None:
    """CPU seconds per camera-minute over every round of one candidate."""
    if not runs:
        return None
    return sum(r["cpu_s"] for r in runs) / (cameras * sum(r["seconds"] for r in runs) / 60)


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="10 cameras, 2 s segments, 6 s window: under a minute")
    parser.add_argument("--cameras", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the four candidates in turn this many times")
    parser.add_argument("--store", choices=("s3", "file"), default="s3",
                        help="s3: moto on loopback, pinned to one core and not counted; "
                             "file: the local FileStore (rclone moves into a folder)")
    args = parser.parse_args()
    cameras = args.cameras or (10 if args.quick else 100)
    seconds = args.seconds or (6.0 if args.quick else 60.0)
    warmup = 2.0 if args.quick else 15.0
    segment_s = QUICK_SEGMENT_S if args.quick else SEGMENT_S
    size, bitrate = ("1280x720", "2M") if args.quick else ("1920x1080", "3M")
    ffmpeg, ffmpeg_note = find_tool("ffmpeg")
    log(ffmpeg_note)
    rclone, rclone_note = find_tool("rclone")
    log(rclone_note)
    work = Path(tempfile.mkdtemp(prefix="record-bench-"))
    port = free_port()
    moto = start_moto(port) if args.store == "s3" else None
    try:
        sim, ports = start_simulator(cameras, size, bitrate)
        if moto:
            wait_for_moto(moto, port)
    except BaseException:
        if moto:
            moto.kill()
        raise
    runs: dict[str, list[dict]] = {"camerahub": [], "ffmpeg": [], "ffmpeg_rclone": [],
                                   "floor": []}
    figures: dict = {}
    try:
        endpoint = f"http://127.0.0.1:{port}"
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_EC2_METADATA_DISABLED": "true", "CAMERAHUB_CAMERA_PASSWORD": "admin"}
        os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        if moto:
            make_client(S3Settings(bucket=bucket, endpoint_url=endpoint, path_style=True)
                        ).create_bucket(Bucket=bucket)
        urls = camera_urls(ports, cameras)
        for n in range(args.rounds):
            round_dir = work / f"round{n}"
            env["CAMERAHUB_DATABASE_URL"] = f"sqlite:///{round_dir / 'bench.db'}"
            round_dir.mkdir()
            cfg_path = round_dir / "bench.yaml"
            data = config(cameras, ports, endpoint, bucket, round_dir / "data", segment_s)
            if args.store == "file":
                data["storage"] = {"backend": "file", "file": {"path": str(round_dir / "store")}}
            cfg_path.write_text(yaml.safe_dump(data), encoding="utf-8")
            log(f"round {n + 1}: camerahub record, {cameras} cameras for {seconds:.0f} s")
            runs["camerahub"].append(run_camerahub(cfg_path, env, warmup, seconds))
            if n == 0:
                figures = segment_figures(env["CAMERAHUB_DATABASE_URL"], cameras,
                                          warmup + runs["camerahub"][0]["seconds"], segment_s)
            if ffmpeg:
                log(f"round {n + 1}: ffmpeg alone, {cameras} processes")
                runs["ffmpeg"].append(run_ffmpeg(ffmpeg, urls, warmup, seconds,
                                                 round_dir / "ffmpeg", segment_s=segment_s))
            if ffmpeg and rclone:
                log(f"round {n + 1}: ffmpeg + rclone move --checksum")
                src = round_dir / "ffmpeg-rclone"
                dest = (f"bench:{bucket}/rclone-{n}" if moto
                        else str(round_dir / "rclone-store"))
                mover = [rclone, "move", str(src), dest, "--checksum", "--min-age", "3s",
                         "--transfers", "8", "--exclude", "*.tmp"]
                runs["ffmpeg_rclone"].append(run_ffmpeg(
                    ffmpeg, urls, warmup, seconds, src, mover,
                    rclone_env(args.store, endpoint), segment_s))
            log(f"round {n + 1}: floor (read the sessions to nowhere)")
            runs["floor"].append(run_floor(urls, warmup, seconds))
    finally:
        if moto:
            moto.terminate()
            moto.wait(30)
        sim.stop()
        shutil.rmtree(work, ignore_errors=True)
    ours, ff = runs["camerahub"], runs["ffmpeg"]
    cpu = per_camera_minute(ours, cameras)
    ff_cpu = per_camera_minute(ff, cameras)
    ffr_cpu = per_camera_minute(runs["ffmpeg_rclone"], cameras)
    floor_cpu = per_camera_minute(runs["floor"], cameras)
    camera_minutes = cameras * sum(r["seconds"] for r in ours) / 60

    def group(g: str) -> float:
        return sum(r["threads"].get(g, 0.0) for r in ours) / camera_minutes

    rounded = lambda v: round(v, 3) if v is not None else None  # noqa: E731
    result = {
        "cameras": cameras, "seconds": round(ours[0]["seconds"], 1), "rounds": args.rounds,
        "main_stream": f"{size}@{bitrate}", "segment_s": segment_s, "store": args.store,
        "cpu_s_per_camera_minute": rounded(cpu),
        "ffmpeg_cpu_s_per_camera_minute": rounded(ff_cpu),
        "ffmpeg_rclone_cpu_s_per_camera_minute": rounded(ffr_cpu),
        "floor_cpu_s_per_camera_minute": rounded(floor_cpu),
        "cpu_ratio_vs_ffmpeg_rclone": ratio(cpu, ffr_cpu),
        "cpu_ratio_vs_ffmpeg": ratio(cpu, ff_cpu),
        "cpu_ratio_vs_floor": ratio(cpu, floor_cpu),
        "ffmpeg_rclone_ratio_vs_floor": ratio(ffr_cpu, floor_cpu),
        # the same split by thread: stream copy into segments (what ffmpeg does) vs upload
        "record_threads_cpu_s_per_camera_minute": round(group("rec"), 3),
        "upload_threads_cpu_s_per_camera_minute": round(group("upload"), 3),
        "other_threads_cpu_s_per_camera_minute": round(group("other"), 3),
        "record_cpu_ratio_vs_ffmpeg": ratio(group("rec"), ff_cpu),
        "rss_mb": round(max(r["rss_mb"] for r in ours), 1),
        "ffmpeg_rss_mb": round(max(r["rss_mb"] for r in ff), 1) if ff else None,
        "rss_ratio_vs_ffmpeg": ratio(max(r["rss_mb"] for r in ours),
                                     max(r["rss_mb"] for r in ff) if ff else None),
        "floor_bytes_per_camera_s": (round(runs["floor"][0]["bytes"] / cameras
                                           / runs["floor"][0]["seconds"])
                                     if runs["floor"] and runs["floor"][0].get("bytes")
                                     else None),
        "rclone_segments_left_behind": (runs["ffmpeg_rclone"][0]["left_behind"]
                                        if runs["ffmpeg_rclone"] else None),
        # every camera's open segment, the one finished since rclone's last pass (every
        # segment) and those younger than --min-age (3 s) may stay; more means rclone failed
        # or fell behind, and its CPU figure is not the whole job
        "rclone_kept_up": (runs["ffmpeg_rclone"][0]["left_behind"]
                           <= (2 + math.ceil(3 / segment_s)) * cameras
                           if runs["ffmpeg_rclone"] else None),
        "ffmpeg": ffmpeg_note, "rclone": rclone_note,
        **figures,
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
