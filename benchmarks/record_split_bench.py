"""Where the recording CPU goes: PyAV demux alone, the Segmenter in one process or split
over several, against `ffmpeg -c copy` to null and to 10 s segments, same cameras, same run.

record_bench.py measures the product as deployed (one `camerahub record` process with its
uploads). This one takes the upload away and varies one thing at a time:

    demux          PyAV reads the RTSP session and drops every packet
    segmenter      camerahub's Segmenter (spool files, hashing, sidecars), one process
    segmenter_xP   the same cameras split over P processes (one GIL each)
    ffmpeg_null    one `ffmpeg -rtsp_transport tcp -i URI -c copy -f null -` per camera
    ffmpeg_segment one `ffmpeg ... -c copy -f segment -segment_time 10` per camera

    python benchmarks/record_split_bench.py            # 100 cameras 1080p 3 Mbit/s, 30 s each
    python benchmarks/record_split_bench.py --quick    # 10 cameras 720p 2 Mbit/s, 5 s each

CPU seconds per camera-minute from /proc (utime + stime of every process involved). The
last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.record_bench import camera_urls, cpu_seconds, find_tool, log  # noqa: E402
from simulator.launcher import SimulatorProcess  # noqa: E402
from simulator.testing import isolated_args  # noqa: E402

SUBNET = 73


def child(variant: str, urls: list[str]) -> None:
    """Record (or just demux) the URLs in this process until SIGTERM."""
    from camerahub.storage import SpoolSink
    from camerahub.video.segmenter import Segmenter
    from camerahub.video.source import InputOptions, open_input

    stop = threading.Event()
    work = Path(tempfile.mkdtemp(prefix="split-bench-"))

    def drop(info) -> None:
        info.path.unlink(missing_ok=True)
        info.path.with_suffix(".json").unlink(missing_ok=True)

    def run(n: int, url: str) -> None:
        try:
            if variant == "demux":
                container = open_input(url, InputOptions())
                for _packet in container.demux(container.streams.video[0]):
                    if stop.is_set():
                        return
            else:
                sink = SpoolSink(work / f"spool-{n}")
                Segmenter(f"cam-{n:03d}", "hq", sink, drop).record(url, stop)
        except Exception as exc:  # noqa: BLE001 - a failed camera shows as missing CPU
            log(f"camera {n}: {exc}")

    for n, url in enumerate(urls):
        threading.Thread(target=run, args=(n, url), daemon=True).start()
    print("ready", flush=True)
    signal.sigwait([signal.SIGTERM])
    stop.set()
    shutil.rmtree(work, ignore_errors=True)


def measure(procs: list[subprocess.Popen], warmup: float, seconds: float) -> float:
    """CPU seconds the processes used over the window after the warm-up."""
    time.sleep(warmup)
    base = sum(cpu_seconds(p.pid) for p in procs)
    time.sleep(seconds)
    return sum(cpu_seconds(p.pid) for p in procs) - base


def run_variant(name: str, urls: list[str], ffmpeg: str | None, out: Path,
                warmup: float, seconds: float) -> float | None:
    """CPU seconds per camera-minute of one variant."""
    if name.startswith("ffmpeg"):
        if ffmpeg is None:
            return None
        procs = []
        for n, url in enumerate(urls):
            tail = (["-f", "null", "-"] if name == "ffmpeg_null" else
                    ["-f", "segment", "-segment_time", "10", str(out / f"{n:03d}-%05d.ts")])
            procs.append(subprocess.Popen(
                [ffmpeg, "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-i", url,
                 "-c", "copy", *tail], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        stop = signal.SIGINT
    else:
        parts = int(name.rsplit("_x", 1)[1]) if "_x" in name else 1
        variant = "demux" if name == "demux" else "segmenter"
        procs = [subprocess.Popen([sys.executable, __file__, "--child", variant, *urls[i::parts]],
                                  stdout=subprocess.PIPE, text=True) for i in range(parts)]
        for proc in procs:
            proc.stdout.readline()  # "ready": every camera thread has started
        stop = signal.SIGTERM
    try:
        cpu = measure(procs, warmup, seconds)
    finally:
        for proc in procs:
            proc.send_signal(stop)
        for proc in procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return round(cpu / (len(urls) * seconds / 60), 3)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])
        child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 cameras, 5 s windows")
    parser.add_argument("--cameras", type=int)
    parser.add_argument("--seconds", type=float)
    parser.add_argument("--processes", type=int, default=4, help="P of segmenter_xP")
    args = parser.parse_args()
    cameras = args.cameras or (10 if args.quick else 100)
    seconds = args.seconds or (5.0 if args.quick else 30.0)
    warmup = 2.0 if args.quick else 8.0
    size, bitrate = ("1280x720", "2M") if args.quick else ("1920x1080", "3M")
    ffmpeg, note = find_tool("ffmpeg")
    log(note)
    sim_args, ports = isolated_args(SUBNET)
    sim = SimulatorProcess([*sim_args, "--cameras", str(cameras), "--hq", str(cameras),
                            "--main-size", size, "--bitrate", bitrate])
    out = Path(tempfile.mkdtemp(prefix="split-bench-ffmpeg-"))
    names = ["demux", "segmenter", f"segmenter_x{args.processes}", "ffmpeg_null",
             "ffmpeg_segment"]
    figures: dict[str, float | None] = {}
    try:
        sim.wait_ready(600)
        urls = camera_urls(ports, cameras)
        for name in names:
            figures[name] = run_variant(name, urls, ffmpeg, out, warmup, seconds)
            log(f"{name}: {figures[name]} CPU s per camera-minute")
    finally:
        sim.stop()
        shutil.rmtree(out, ignore_errors=True)
    ref = figures.get("ffmpeg_segment")
    split = figures[f"segmenter_x{args.processes}"]
    print(json.dumps({
        "cameras": cameras, "seconds": seconds, "main_stream": f"{size}@{bitrate}",
        "cpu_s_per_camera_minute": figures,
        "segmenter_ratio_vs_ffmpeg_segment": round(figures["segmenter"] / ref, 3) if ref else None,
        "split_ratio_vs_ffmpeg_segment": round(split / ref, 3) if ref else None,
        "ffmpeg": note,
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
