"""Benchmark: segmenter CPU per camera stream, probe/clip speed, spool upload throughput.

Usage: python benchmarks/segment_upload_bench.py [--quick]
Everything is local: a libx264 file stands in for a camera (demuxing a file is slightly
cheaper than depacketizing RTSP), FileStore on a temp dir and a moto S3 server bound to
127.0.0.1 stand in for storage. The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np

from camerahub.storage import (
    FileStore,
    RetryPolicy,
    S3Settings,
    S3Store,
    Spool,
    SpoolSink,
    Uploader,
)
from camerahub.storage.s3store import make_client
from camerahub.video import (
    Segmenter,
    SegmenterConfig,
    StreamEnded,
    StreamError,
    probe_segment,
    remux_to_mp4,
)


def encode_camera_like(path: Path, seconds: int, bitrate: int = 4_000_000) -> Path:
    """720p15, GOP 1 s, ~4 Mbit/s of moving noise: a busy camera's main stream."""
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (720 + 64, 1280 + 64, 3), dtype=np.uint8)
    with av.open(str(path), "w", format="mpegts") as out:
        stream = out.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        stream.bit_rate = bitrate
        stream.options = {"g": "15", "keyint_min": "15", "sc_threshold": "0",
                          "preset": "ultrafast", "bf": "0"}
        for i in range(seconds * 15):
            shift = i % 64
            img = np.ascontiguousarray(base[shift:shift + 720, shift:shift + 1280])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode(None))
    return path


def bench_segmenter(source: Path, spool: Path, seconds: int) -> dict:
    """CPU and wall time to stream-copy `seconds` of video into 10 s segments."""
    infos = []
    config = SegmenterConfig(segment_seconds=10, drift_threshold_s=None)
    segmenter = Segmenter("bench-cam", "hq", SpoolSink(spool), infos.append, config,
                          clock=lambda: datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    cpu, wall = time.process_time(), time.perf_counter()
    with contextlib.suppress(StreamEnded):  # the end of the file ends the session
        segmenter.record(str(source))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    size = sum(i.bytes for i in infos)
    return {
        "segments": len(infos),
        "video_seconds": seconds,
        "stream_mbit_s": round(size * 8 / seconds / 1e6, 2),
        "segmenter_cpu_ms_per_video_s": round(cpu * 1000 / seconds, 2),
        "segmenter_streams_per_core_est": int(seconds / cpu) if cpu else None,
        "segmenter_wall_s": round(wall, 3),
        "paths": [str(i.path) for i in infos],
    }


def bench_probe_and_clip(paths: list[str], out_dir: Path) -> dict:
    """Time to probe one segment and to remux all segments into one MP4."""
    started = time.perf_counter()
    for path in paths:
        assert probe_segment(path).playable
    probe_ms = (time.perf_counter() - started) * 1000 / len(paths)
    started = time.perf_counter()
    size = remux_to_mp4([Path(p) for p in paths], 0, None, out_dir / "clip.mp4")
    return {"probe_ms_per_segment": round(probe_ms, 1),
            "clip_remux_mb_s": round(size / 1e6 / (time.perf_counter() - started), 1)}


def free_port() -> int:
    """A free port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_upload(store, spool_root: Path, workers: int) -> dict:
    """Throughput of the uploader draining the spool into a store."""
    spool = Spool(spool_root)
    items = spool.ready_items()
    size = sum(i.bytes for i in items)
    done = threading.Event()
    count = [0]

    def on_uploaded(item, key, sha):
        count[0] += 1
        if count[0] == len(items):
            done.set()

    uploader = Uploader(spool, store, on_uploaded, workers=workers,
                        retry=RetryPolicy(initial_s=0.1, max_s=1))
    started = time.perf_counter()
    uploader.start()
    done.wait(600)
    elapsed = time.perf_counter() - started
    uploader.stop()
    return {"segments": len(items), "mb_s": round(size / 1e6 / elapsed, 1),
            "segments_s": round(len(items) / elapsed, 1)}


def fake_backlog(src: Path, dst: Path, cameras: int) -> None:
    """A spool backlog of `cameras` cameras, each with a copy of the benchmark segments."""
    (dst / "ready").mkdir(parents=True)
    for sidecar in (src / "ready").glob("*.json"):
        info = json.loads(sidecar.read_text())
        data = sidecar.with_suffix(".ts").read_bytes()
        for n in range(cameras):
            target = dst / "ready" / f"{n:03d}-{sidecar.stem}.ts"
            target.write_bytes(data)
            info.update(camera_id=f"bench-cam-{n:03d}", path=str(target))
            target.with_suffix(".json").write_text(json.dumps(info))


def sandbox_aws_env(tmp: Path) -> None:
    """Dummy credentials and no metadata probing: the benchmark never leaves loopback."""
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
                      AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=str(tmp / "none"),
                      AWS_SHARED_CREDENTIALS_FILE=str(tmp / "none"))
    os.environ.pop("AWS_PROFILE", None)


def bench_s3(spool_root: Path, tmp: Path, workers: int) -> dict:
    """Upload the backlog to a moto S3 server on 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        settings = S3Settings(bucket="bench-segments", endpoint_url=f"http://127.0.0.1:{port}",
                              path_style=True)
        make_client(settings).create_bucket(Bucket=settings.bucket)
        return bench_upload(S3Store(settings), spool_root, workers)
    finally:
        server.stop()


def bench_live_rtsp(cameras: int, seconds: float, tmp: Path) -> dict:
    """Recorder-process CPU for live RTSP from camerahub-sim (run as its own process)."""
    from simulator.launcher import SimulatorProcess

    base = "127.0.45.1"  # this benchmark's private range
    rtsp_port = free_port()
    args = ["--cameras", str(cameras), "--hq", str(cameras), "--hq-base", base,
            "--facility-base", "127.0.46.1", "--port", str(free_port()),
            "--rtsp-port", str(rtsp_port), "--control-port", "off", "--bitrate", "4M",
            "--cache-dir", str(Path(__file__).resolve().parents[1] / ".sim-cache")]
    sim = SimulatorProcess(args)
    try:
        sim.wait_ready(300)
        return _record_live(cameras, seconds, rtsp_port, tmp)
    finally:
        sim.stop()


def _record_live(cameras: int, seconds: float, rtsp_port: int, tmp: Path) -> dict:
    """Run one segmenter thread per simulated camera for `seconds` and measure CPU."""
    stop, infos = threading.Event(), []
    threads = []
    cpu, wall = time.process_time(), time.perf_counter()
    for n in range(cameras):
        segmenter = Segmenter(f"live-{n:03d}", "hq", SpoolSink(tmp / "live"), infos.append)
        url = f"rtsp://admin:admin@127.0.45.{1 + n}:{rtsp_port}/main"
        thread = threading.Thread(target=_record_quietly, args=(segmenter, url, stop))
        thread.start()
        threads.append(thread)
    stop.wait(seconds)  # how long to record, not a synchronisation
    stop.set()
    for thread in threads:
        thread.join(30)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cameras": cameras, "segments": len(infos),
            "stream_mbit_s": round(sum(i.bytes for i in infos) * 8 / wall / cameras / 1e6, 2),
            "cpu_pct_of_core_per_stream": round(100 * cpu / wall / cameras, 2)}


def _record_quietly(segmenter: Segmenter, url: str, stop: threading.Event) -> None:
    """Record one session; a failure shows up as missing segments in the figures."""
    with contextlib.suppress(StreamError):
        segmenter.record(url, stop)


def main() -> None:
    """Run the benchmark and print the JSON figures last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="finish in well under 60 s")
    parser.add_argument("--rtsp-cameras", type=int, default=None,
                        help="live RTSP cameras from camerahub-sim (default 0 quick, 10 full)")
    args = parser.parse_args()
    seconds, cameras = (60, 10) if args.quick else (300, 20)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log lines
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        sandbox_aws_env(tmp)
        source = encode_camera_like(tmp / "camera.ts", seconds)
        seg = bench_segmenter(source, tmp / "spool", seconds)
        figures = {"segmenter": {k: v for k, v in seg.items() if k != "paths"}}
        figures["probe_clip"] = bench_probe_and_clip(seg["paths"], tmp)
        fake_backlog(tmp / "spool", tmp / "spool-s3", cameras)
        fake_backlog(tmp / "spool", tmp / "spool-file", cameras)
        figures["upload_moto_s3_4_workers"] = bench_s3(tmp / "spool-s3", tmp, 4)
        figures["upload_filestore_2_workers"] = bench_upload(
            FileStore(tmp / "store"), tmp / "spool-file", 2)
        live = args.rtsp_cameras if args.rtsp_cameras is not None else (0 if args.quick else 10)
        if live:
            figures["segmenter_live_rtsp"] = bench_live_rtsp(live, 30, tmp)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
