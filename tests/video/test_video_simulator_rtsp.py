"""Integration: segment a live RTSP stream from camerahub-sim.

The simulator runs in-process on 127.W.41.x / 127.W.42.x (this suite's private range) and
free ports, so it never collides with other suites or touches anything beyond loopback.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import av
import cv2
import numpy as np
import pytest

from camerahub.storage import SpoolItem, SpoolSink
from camerahub.video import (
    InputOptions,
    Segmenter,
    SegmenterConfig,
    StreamOpenError,
    StreamStalled,
    probe_segment,
    snapshot_jpeg,
)
from tests.support.simulators import simulator_fixture

SUBNET = 41  # 127.W.41.x / 127.W.42.x: this suite's private range
LIVE = InputOptions(open_timeout_s=10, read_timeout_s=3)


# One simulated HQ camera with a small main stream (GOP 1 s at 15 fps)
sim = simulator_fixture(SUBNET, cameras=1, hq=1, control_port=None, main_size="640x360")


def camera_id(sim) -> str:
    """The id of the only simulated camera."""
    return sim.cameras[0].camera_id


def segmenter_until(sim, spool, count: int, seconds: float, stop: threading.Event):
    """A segmenter that sets `stop` after `count` segments; returns it and its list."""
    infos: list[SpoolItem] = []

    def on_segment(info: SpoolItem) -> None:
        infos.append(info)
        if len(infos) >= count:
            stop.set()

    config = SegmenterConfig(segment_seconds=seconds, input=LIVE)
    return Segmenter(camera_id(sim), "hq", SpoolSink(spool), on_segment, config), infos


def test_live_rtsp_is_segmented_gaplessly_on_keyframes(sim, tmp_path):
    stop = threading.Event()
    segmenter, infos = segmenter_until(sim, tmp_path, count=5, seconds=5, stop=stop)
    before = datetime.now(UTC)
    segmenter.record(sim.rtsp_url(camera_id(sim)), stop)  # about 25 s of live video
    after = datetime.now(UTC)
    assert len(infos) >= 5
    assert before - timedelta(seconds=1) <= infos[0].start_utc <= after
    for previous, current in zip(infos, infos[1:5], strict=False):
        assert current.start_utc == previous.end_utc
    for info in infos[:5]:
        assert info.duration_ms == 5000 and info.frames == 75 and info.keyframes == 5
        assert (info.codec, info.width, info.height) == ("h264", 640, 360)
        check = probe_segment(info.path)
        assert check.playable and check.frames == info.frames
        with av.open(str(info.path)) as container:
            assert sum(1 for _ in container.decode(video=0)) == info.frames


def test_snapshot_from_live_rtsp(sim):
    jpeg = snapshot_jpeg(sim.rtsp_url(camera_id(sim)), options=LIVE)
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (360, 640, 3)


def test_rejected_credentials_are_unauthorized(sim, tmp_path):
    sim.set_faults(camera_id(sim), reject_auth=True)
    try:
        segmenter, _ = segmenter_until(sim, tmp_path, 1, 2, threading.Event())
        with pytest.raises(StreamOpenError) as failed:
            segmenter.record(sim.rtsp_url(camera_id(sim)))
        assert failed.value.kind == "unauthorized"
    finally:
        sim.clear_faults(camera_id(sim))


def test_stalled_camera_is_detected_and_the_segment_kept(sim, tmp_path):
    stop = threading.Event()
    segmenter, infos = segmenter_until(sim, tmp_path, 1, 2, stop)
    stalled_once = threading.Event()

    def stall_after_first(info: SpoolItem) -> None:
        infos.append(info)
        if not stalled_once.is_set():
            stalled_once.set()
            sim.set_faults(camera_id(sim), stall=True)

    segmenter.on_segment = stall_after_first
    try:
        with pytest.raises(StreamStalled) as stalled:
            segmenter.record(sim.rtsp_url(camera_id(sim)))
    finally:
        sim.clear_faults(camera_id(sim))
    assert len(infos) >= 2  # the segment open when the camera went quiet was closed
    assert stalled.value.last_end_utc == infos[-1].end_utc
    assert all(probe_segment(info.path).playable for info in infos)
