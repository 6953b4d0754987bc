"""A live segment starts at the wall clock when its first packet arrived, within 100 ms.

The reference is the simulator's own record of when it wrote each keyframe's first packet
to the socket (`Simulator.sent`). Its keyframes are 4 s apart here, so a segment cannot be
matched to the wrong one unless it is off by 2 s or more. Runs on 127.0.175.x / 127.0.176.x.
"""

from __future__ import annotations

import logging
import threading

import pytest

from camerahub.storage import SpoolItem, SpoolSink
from camerahub.video import InputOptions, Segmenter, SegmenterConfig
from simulator.testing import running_simulator

SUBNET = 175
CAMERA = "hq-001"
GOP_S = 4
TOLERANCE_MS = 100

log = logging.getLogger(__name__)


@pytest.fixture(scope="module")
def sim():
    """One camera, 640x360 at 15 fps, a keyframe every 4 s."""
    with running_simulator(cameras=1, hq=1, subnet=SUBNET, control_port=None,
                           main_size="640x360") as simulator:
        simulator.change_settings(CAMERA, main={"gop": 15 * GOP_S})
        simulator.wait_streams(CAMERA)
        yield simulator


def record(sim, spool, count: int) -> list[SpoolItem]:
    """Record `count` segments of one GOP each from the camera's main stream."""
    infos: list[SpoolItem] = []
    stop = threading.Event()

    def on_segment(info: SpoolItem) -> None:
        infos.append(info)
        if len(infos) >= count:
            stop.set()

    config = SegmenterConfig(segment_seconds=GOP_S, input=InputOptions(read_timeout_s=10))
    Segmenter(CAMERA, "hq", SpoolSink(spool), on_segment, config).record(
        sim.rtsp_url(CAMERA), stop)
    return infos


@pytest.mark.parametrize("session", [1, 2])
def test_segment_starts_are_when_their_keyframe_arrived(sim, tmp_path, session):
    infos = record(sim, tmp_path, count=4)
    sent = [k["wall"] for k in sim.sent(CAMERA)["main"]["keyframes"]]
    errors = []
    for info in infos:
        start = info.start_utc.timestamp()
        nearest = min(sent, key=lambda wall: abs(wall - start))
        errors.append(round((start - nearest) * 1000))
    log.info("session %d: start minus keyframe send time, ms: %s", session, errors)
    assert all(abs(error) <= TOLERANCE_MS for error in errors), errors
    for previous, current in zip(infos, infos[1:]):
        assert current.start_utc == previous.end_utc  # abutting, by stream time
