"""A frame's duration is the interval between frames, never a hole in the stream.

RTP carries no frame duration, so the session takes each frame's to be the interval before
it. Across a refusal, a loss or missing frames that interval is a hole: taken for a frame,
the keyframe that resumes recording claimed the whole hole as its own duration, and a
session that ended right after it stored a segment ending in the future (a camera sending
noise, healed, then the recorder stopping: seen in the hostile-stream test). Frames are
handed to the live session straight (tests.support.session), arriving at their stream time;
no network.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.media import GOP
from tests.support.session import FRAME, T0, drive, encoded_frames


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    return encoded_frames(tmp_path_factory.mktemp("h264"))


@pytest.mark.parametrize(("script", "kept"), [
    # noise: the frame held back before it goes with it
    ([*range(6), *((n, "noise") for n in range(6, GOP)), GOP], 5),
    ([*range(6), (6, "lost"), GOP], 6),
    # frame_num shows 6-8 missing (10-14 never come): frame 5, held back, goes too
    ([*range(6), 9, GOP], 5),
], ids=["refused", "lost", "missing"])
def test_the_keyframe_after_a_hole_does_not_claim_the_hole(frames, tmp_path, script, kept):
    infos, ended = drive(frames, tmp_path, script)
    assert [i.frames for i in infos] == [kept, 1]
    assert infos[0].start_utc == T0
    resumed = infos[1]
    assert abs(resumed.start_utc - (T0 + GOP * FRAME)) < timedelta(milliseconds=1)
    # one frame interval at most, learned from the frames before the hole
    assert resumed.duration_ms <= round(FRAME / timedelta(milliseconds=1))
    assert resumed.end_utc <= ended + FRAME


def test_consecutive_frames_still_set_the_interval(frames, tmp_path):
    infos, _ = drive(frames, tmp_path, range(2 * GOP))
    assert [i.frames for i in infos] == [2 * GOP]
    assert infos[0].duration_ms == round(2 * GOP * FRAME / timedelta(milliseconds=1))
