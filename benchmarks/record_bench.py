"""Recording cost: camerahub (PyAV stream copy, one process) vs one ffmpeg per camera.

Both record the same simulated cameras (main stream at a realistic bitrate) over RTSP/TCP
in the same run: first `camerahub record` for the window, then one
`ffmpeg -rtsp_transport tcp -i URI -c copy -f segment -segment_time 10` per camera, the way
mainstream NVRs record. CPU seconds per camera-minute come from /proc (utime + stime),
peak memory from VmHWM. The recorder uploads to a moto S3 server on loopback.

    python benchmarks/record_bench.py            # 100 cameras at 1080p 3 Mbit/s, 60 s each
    python benchmarks/record_bench.py --quick    # 10 cameras, 720p 2 Mbit/s, 15 s each

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import yaml
from moto.server import ThreadedMotoServer
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


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def find_ffmpeg() -> tuple[str | None, str]:
    """ffmpeg on PATH, else install Debian's package when we are root; and what happened."""
    path = shutil.which("ffmpeg")
    if path:
        return path, "found on PATH"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("ffmpeg not found: installing Debian's ffmpeg package (apt-get)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "ffmpeg"], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        path = shutil.which("ffmpeg")
        if path:
            return path, "installed from Debian's ffmpeg package"
    return None, "ffmpeg unavailable (not on PATH and could not install Debian's ffmpeg)"


def start_simulator(cameras: int, size: str, bitrate: str) -> tuple[SimulatorProcess, dict]:
    args, ports = isolated_args(SUBNET)
    proc = SimulatorProcess([*args, "--cameras", str(cameras), "--hq", str(cameras),
                             "--main-size", size, "--bitrate", bitrate])
    ready = proc.wait_ready(600)
    log(f"simulator ready: {cameras} cameras at {size} {bitrate} in {ready:.1f} s")
    return proc, ports


def config(cameras: int, ports: dict, endpoint: str, bucket: str, data: Path) -> dict:
    base = ports["hq_base"].rsplit(".", 1)[0]
    return {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"}],
        "org": {"departments": [{"id": "d", "name": "部", "divisions": [
            {"id": "v", "name": "分野", "rooms": [{"id": "r", "name": "室", "site": "hq"}]}]}]},
        "credentials": [{"id": "cam", "username": "admin",
                         "password_env": "CAMERAHUB_CAMERA_PASSWORD"}],
        "defaults": {"port": ports["port"], "credential": "cam"},
        "cameras": [{"id": f"cam-{i:03d}", "name": f"カメラ{i}", "site": "hq", "room": "r",
                     "address": f"{base}.{i}"} for i in range(1, cameras + 1)],
        "storage": {"backend": "s3", "s3": {"bucket": bucket, "endpoint_url": endpoint,
                                            "path_style": True, "region": "us-east-1"}},
        "recorder": {"segment_seconds": 10, "upload_workers": 8},
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


def run_ffmpeg(ffmpeg: str, urls: list[str], warmup: float, seconds: float, out: Path) -> dict:
    procs = []
    for i, url in enumerate(urls):
        folder = out / f"cam{i:03d}"
        folder.mkdir(parents=True)
        procs.append(subprocess.Popen(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
             "-c", "copy", "-f", "segment", "-segment_time", "10", str(folder / "%05d.ts")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    figures = measure([p.pid for p in procs], warmup, seconds)
    for p in procs:
        p.send_signal(signal.SIGINT)
    for p in procs:
        p.wait(60)
    return figures


def segment_figures(db_url: str, cameras: int, seconds: float) -> dict:
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
    full = [x for x in segs if x.duration_ms >= 9000]
    expected = cameras * max(int(seconds // 10) - 1, 1)
    missing = max(expected - len(full), 0) + holes + (cameras - len(by_cam)) * 0
    return {"segments_expected": expected, "segments_stored": len(full),
            "missing_segments": missing, "discontinuities": holes,
            "upload_lag_p50_s": round(statistics.median(lags), 3) if lags else None,
            "upload_lag_p99_s": round(lags[int(0.99 * (len(lags) - 1))], 3) if lags else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 cameras, 15 s window")
    parser.add_argument("--cameras", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--store", choices=("s3", "file"), default="s3",
                        help="s3: moto on loopback (its Python server shares our 2 cores); "
                             "file: the local FileStore, to compare recording cost alone")
    args = parser.parse_args()
    cameras = args.cameras or (10 if args.quick else 100)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    warmup = 5.0 if args.quick else 15.0
    size, bitrate = ("1280x720", "2M") if args.quick else ("1920x1080", "3M")
    ffmpeg, ffmpeg_note = find_ffmpeg()
    log(ffmpeg_note)
    work = Path(tempfile.mkdtemp(prefix="record-bench-"))
    sim, ports = start_simulator(cameras, size, bitrate)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    moto.start()
    try:
        endpoint = f"http://127.0.0.1:{moto._port}"
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
               "AWS_EC2_METADATA_DISABLED": "true", "CAMERAHUB_CAMERA_PASSWORD": "admin",
               "CAMERAHUB_DATABASE_URL": f"sqlite:///{work / 'bench.db'}"}
        os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        make_client(S3Settings(bucket=bucket, endpoint_url=endpoint, path_style=True)
                    ).create_bucket(Bucket=bucket)
        cfg_path = work / "bench.yaml"
        data = config(cameras, ports, endpoint, bucket, work / "data")
        if args.store == "file":
            data["storage"] = {"backend": "file", "file": {"path": str(work / "store")}}
        cfg_path.write_text(yaml.safe_dump(data), encoding="utf-8")
        log(f"camerahub record: {cameras} cameras for {seconds:.0f} s")
        ours = run_camerahub(cfg_path, env, warmup, seconds)
        figures = segment_figures(env["CAMERAHUB_DATABASE_URL"], cameras, warmup + ours["seconds"])
        ref = None
        if ffmpeg:
            base = ports["hq_base"].rsplit(".", 1)[0]
            urls = [f"rtsp://admin:admin@{base}.{i}:{ports['rtsp_port']}/main"
                    for i in range(1, cameras + 1)]
            log(f"ffmpeg reference: {cameras} processes for {seconds:.0f} s")
            ref = run_ffmpeg(ffmpeg, urls, warmup, seconds, work / "ffmpeg")
    finally:
        moto.stop()
        sim.stop()
        shutil.rmtree(work, ignore_errors=True)
    per_cam_min = lambda r: r["cpu_s"] / (cameras * r["seconds"] / 60)  # noqa: E731
    group = lambda g: ours["threads"].get(g, 0.0) / (cameras * ours["seconds"] / 60)  # noqa: E731
    result = {
        "cameras": cameras, "seconds": round(ours["seconds"], 1),
        "main_stream": f"{size}@{bitrate}",
        "cpu_s_per_camera_minute": round(per_cam_min(ours), 3),
        "ffmpeg_cpu_s_per_camera_minute": round(per_cam_min(ref), 3) if ref else None,
        "cpu_ratio_vs_ffmpeg": round(per_cam_min(ours) / per_cam_min(ref), 3) if ref else None,
        # the same split by thread: stream copy into segments (what ffmpeg does) vs upload
        "record_threads_cpu_s_per_camera_minute": round(group("rec"), 3),
        "upload_threads_cpu_s_per_camera_minute": round(group("upload"), 3),
        "other_threads_cpu_s_per_camera_minute": round(group("other"), 3),
        "record_only_ratio_vs_ffmpeg": round(group("rec") / per_cam_min(ref), 3) if ref else None,
        "rss_mb": round(ours["rss_mb"], 1),
        "ffmpeg_rss_mb": round(ref["rss_mb"], 1) if ref else None,
        "store": args.store, "ffmpeg": ffmpeg_note, **figures,
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
