"""A frame's duration is the interval between frames, never a hole in the stream.

RTP carries no frame duration, so the session takes each frame's to be the interval before
it. Across a refusal, a loss or missing frames that interval is a hole: taken for a frame,
the keyframe that resumes recording claimed the whole hole as its own duration, and a
session that ended right after it stored a segment ending in the future (a camera sending
noise, healed, then the recorder stopping: seen in the hostile-stream test). Frames are
handed to the live session straight, arriving at their stream time; no network.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import av
import pytest

from camerahub.storage import SpoolSink
from camerahub.video import Segmenter, SegmenterConfig
from camerahub.video.guard import SessionGuard
from camerahub.video.segmenter import SegmentSession
from tests.support.media import FPS, GOP, encode_h264, forbidden_bit

T0 = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
FRAME = timedelta(seconds=1 / FPS)
TB = Fraction(1, 90_000)


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    """Two GOPs of H.264 without B-frames: (bytes, keyframe) per frame."""
    path = encode_h264(tmp_path_factory.mktemp("h264") / "two.ts", 2 * GOP / FPS)
    with av.open(str(path)) as container:
        return [(bytes(p), bool(p.is_keyframe)) for p in container.demux(video=0) if p.size]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def run(frames, tmp_path, script) -> tuple[list, datetime]:
    """Hand the session frames per script (index, or index and what happens instead);
    return the segments and the wall clock when the session ended."""
    with av.open(str(encode_h264(tmp_path / "template.ts", 1 / FPS))) as template:
        stream = template.streams.video[0]
        clock = Clock()
        infos: list = []
        segmenter = Segmenter("cam-1", "hq", SpoolSink(tmp_path / "spool"), infos.append,
                              SegmenterConfig(segment_seconds=10), clock=clock)
        session = SegmentSession(segmenter, stream, "rtsp://127.0.0.1/main", SessionGuard(60), True,
                           T0, time_base=TB, holds_frames=False)
        for step in script:
            index, event = step if isinstance(step, tuple) else (step, None)
            clock.now = T0 + index * FRAME  # each frame arrives at its stream time
            if event == "lost":
                session.lost("RTP packets lost")
                continue
            data, key = frames[index]
            packet = av.Packet(forbidden_bit(data) if event == "noise" else data)
            packet.pts = packet.dts = index * round(1 / (FPS * TB))
            packet.time_base, packet.is_keyframe = TB, key
            session.handle(packet)
        clock.now += timedelta(milliseconds=16)
        ended = clock.now
        session.finish()
    return infos, ended


@pytest.mark.parametrize(("script", "kept"), [
    # noise: the frame held back before it goes with it
    ([*range(6), *((n, "noise") for n in range(6, GOP)), GOP], 5),
    ([*range(6), (6, "lost"), GOP], 6),
    ([*range(6), 9, GOP], 6),  # frame_num shows 6-8 missing; 10-14 never come
], ids=["refused", "lost", "missing"])
def test_the_keyframe_after_a_hole_does_not_claim_the_hole(frames, tmp_path, script, kept):
    infos, ended = run(frames, tmp_path, script)
    assert [i.frames for i in infos] == [kept, 1]
    assert infos[0].start_utc == T0
    resumed = infos[1]
    assert abs(resumed.start_utc - (T0 + GOP * FRAME)) < timedelta(milliseconds=1)
    # one frame interval at most, learned from the frames before the hole
    assert resumed.duration_ms <= round(FRAME / timedelta(milliseconds=1))
    assert resumed.end_utc <= ended + FRAME


def test_consecutive_frames_still_set_the_interval(frames, tmp_path):
    infos, _ = run(frames, tmp_path, range(2 * GOP))
    assert [i.frames for i in infos] == [2 * GOP]
    assert infos[0].duration_ms == round(2 * GOP * FRAME / timedelta(milliseconds=1))
