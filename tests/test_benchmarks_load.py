"""The benchmark scripts still fit the code they measure.

They are run by hand (`make bench`), not by `make test`, so a change of the product's
contracts broke one unseen: authz_bench wrote an untyped audit actor and crashed before
measuring anything. Every script must at least load (its imports of camerahub resolve), and
the authorization benchmark's set-up, which writes to the audit trail, must run.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))


def load(path: Path):
    """Import a benchmark script as a module (its main() does not run)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_there_are_benchmarks():
    assert len(SCRIPTS) >= 10


SYSTEM_PYTHON = "/usr/bin/python3"  # GStreamer's scripts: Debian's PyGObject, not the venv's


def system_python_has_gi() -> bool:
    return shutil.which(SYSTEM_PYTHON) is not None and subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi"], capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_every_benchmark_script_loads(path):
    if "\nimport gi\n" in path.read_text(encoding="utf-8"):
        if not system_python_has_gi():
            pytest.skip("Debian's python3-gi is not installed (make setup installs it)")
        loaded = subprocess.run(
            [SYSTEM_PYTHON, "-c", "import importlib.util as u, sys; "
             "s = u.spec_from_file_location('b', sys.argv[1]); m = u.module_from_spec(s); "
             "s.loader.exec_module(m); assert callable(m.main)", str(path)],
            capture_output=True, text=True, check=False, timeout=120)
        assert loaded.returncode == 0, loaded.stderr
        return
    module = load(path)
    assert callable(getattr(module, "main", None)), f"{path.name} has no main()"


def test_the_authorization_benchmark_sets_up(tmp_path):
    bench = load(BENCHMARKS / "authz_bench.py")
    cfg, sessions = bench.deploy(f"sqlite:///{tmp_path / 'bench.db'}")
    assert len(cfg.cameras) >= 100
    assert bench.requests(cfg, 5)


def test_the_recording_path_benchmark_replays_a_stream_into_segments(tmp_path):
    """record_path_bench.py drives the recorder's own classes (depacketizer, SegmentSession,
    SpoolSink) by hand: a change of their signatures must fail here, not in a later run."""
    bench = load(BENCHMARKS / "record_path_bench.py")
    stream = bench.Stream(25, size=(320, 240), bitrate=300_000)
    assert len(stream.segment_starts()) == 3
    assert bench.run_path(stream, tmp_path) == 3
    blocks = bench.muxed_blocks(stream)
    assert [b"".join(segment)[:1] for segment in blocks] == [b"\x47"] * 3
    bench.run_checks(stream, tmp_path)
    bench.run_keyframe_proof(stream, tmp_path)


def test_the_scale_benchmark_finds_frames_missing_from_ffmpegs_files(tmp_path):
    """record_scale.py judges ffmpeg by the footage in its files, not by their number: a
    frame the camera skipped or a packet run lost (ffmpeg's RTSP client joins what it got
    over TCP without a word) is missing footage, as it is when camerahub records a hole."""
    import av

    from tests.support.media import encode_h264

    bench = load(BENCHMARKS / "record_scale.py")
    with av.open(str(encode_h264(tmp_path / "whole.ts", 2.0))) as source:
        packets = [p for p in source.demux(video=0) if p.size]

    def segments(name: str, drop: set[int], back: int = 0) -> list[Path]:
        """Two files of the frames, as ffmpeg's segment muxer writes them (timestamps run
        on across files), without the frames in `drop`; `back` moves the second file's
        timestamps that many ticks back (a restarted process)."""
        files = []
        for half in (packets[:len(packets) // 2], packets[len(packets) // 2:]):
            shift = back if files else 0
            path = tmp_path / f"{name}-{len(files)}.ts"
            with av.open(str(encode_h264(tmp_path / "template.ts", 0.1))) as template, \
                    av.open(str(path), "w", format="mpegts") as out:
                stream = out.add_stream_from_template(template.streams.video[0])
                for packet in half:
                    index = packets.index(packet)
                    if index in drop:
                        continue
                    copy = av.Packet(bytes(packet))
                    copy.pts, copy.dts = packet.pts - shift, packet.dts - shift
                    copy.time_base, copy.is_keyframe = packet.time_base, packet.is_keyframe
                    copy.stream = stream
                    out.mux(copy)
            files.append(path)
        return files

    assert bench.missing_frames(segments("whole", set())) == {"missing_frames": 0,
                                                              "backwards": 0}
    middle = len(packets) // 2
    assert bench.missing_frames(segments("skips", {5, 6, middle})) == {
        "missing_frames": 3, "backwards": 0}
    assert bench.missing_frames(segments("back", set(), back=180_000))["backwards"] == 1
    broken = tmp_path / "broken.ts"
    broken.write_bytes(b"not a transport stream")
    assert bench.missing_frames([broken])["missing_frames"] == 1


def test_the_simulated_cameras_run_before_the_candidates():
    """record_scale --cameras-first puts the simulator's threads in the real-time class:
    a candidate saturating the node must not starve the cameras into skipping frames, which
    it would then be judged for (real cameras are not on the node)."""
    import os

    bench = load(BENCHMARKS / "record_bench.py")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        said = bench.cameras_first(child.pid)
        if "not permitted" in said:
            pytest.skip("this user may not use real-time scheduling")
        assert os.sched_getscheduler(child.pid) == os.SCHED_RR
        assert "SCHED_RR" in said
    finally:
        child.kill()
        child.wait()
