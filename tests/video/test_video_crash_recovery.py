"""kill -9 in the middle of a segment, then Spool.recover(): what is kept is whole evidence.

The muxer hands the file 64 KiB blocks, so a kill leaves it cut mid TS packet and mid
frame. Whatever the moment, recovery must finalize whole 188-byte packets that an
independent decoder (the ffmpeg command) decodes to the last frame without an error, and
keep the bytes it cuts off in quarantine.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from camerahub.storage import Spool
from camerahub.video import probe_segment, salvage_segment
from tests.support.media import ffmpeg_errors

REPO = Path(__file__).resolve().parents[2]
RECORD_ONE_LONG_SEGMENT = """
import sys
from pathlib import Path
from camerahub.storage import SpoolSink
from camerahub.video import InputOptions, Segmenter, SegmenterConfig
config = SegmenterConfig(segment_seconds=60, input=InputOptions(read_timeout_s=120))
Segmenter("cam-1", "hq", SpoolSink(Path(sys.argv[2])), print, config).record(sys.argv[1])
"""


def wait_for_partial(incoming: Path, min_bytes: int, timeout: float) -> Path:
    """Wait until the recorder has flushed at least min_bytes of a segment to incoming/."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in incoming.glob("*.ts"):
            if path.stat().st_size >= min_bytes:
                return path
        time.sleep(0.05)  # polling a file the other process writes; not a timing assert
    raise AssertionError(f"no partial segment of {min_bytes} B in {incoming}")


# The source goes quiet after this share of the input: the kill finds 1 to 5 blocks written
# and the cut lands in a different frame each time.
@pytest.mark.parametrize("stall_percent", [20, 33, 47, 71])
def test_kill_9_mid_segment_leaves_only_whole_decodable_evidence(media_server, tmp_path,
                                                                  stall_percent):
    spool_root = tmp_path / "spool"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", RECORD_ONE_LONG_SEGMENT,
         media_server.url(f"/stall-{stall_percent}.ts"), str(spool_root)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    try:
        partial = wait_for_partial(spool_root / "incoming", 64 * 1024, timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert partial.with_name(partial.stem + ".open.json").exists()
    left = partial.read_bytes()

    report = Spool(spool_root).recover(salvage_segment)

    assert [p.name for p in report.finalized] == [partial.name]
    item = Spool(spool_root).ready_items()[0]
    assert item.bytes % 188 == 0 and ffmpeg_errors(item.path) == ""
    check = probe_segment(item.path)
    assert check.playable and check.first_is_keyframe
    assert 1000 <= item.duration_ms == check.duration_ms <= 60_000
    assert item.frames == check.frames
    assert item.sha256 == hashlib.sha256(item.path.read_bytes()).hexdigest()
    assert (item.camera_id, item.site) == ("cam-1", "hq")
    assert list((spool_root / "incoming").iterdir()) == []
    tails = [p.read_bytes() for p in report.trimmed]
    assert item.path.read_bytes() + b"".join(tails) == left  # the cut-off tail is kept
