"""Noise that passes every check by chance never reaches a stored segment.

A camera turning to noise mid-segment can send a unit of noise whose NAL and slice headers
pass (under 1 in 1,000). The session writes each packet one packet late, so the noise is
dropped with whatever reveals the stream as broken next: a refusal, or a picture showing
reference frames missing (noise naming frame numbers at random). Seen in CI: a segment
that ffmpeg decoded with "non-existing PPS 13 referenced". Driven frame by frame; no network.
"""

from __future__ import annotations

import pytest

from camerahub.video.bitstream import SliceCheck
from tests.support.media import GOP, annexb, ffmpeg_errors, h264_slice
from tests.support.session import drive, encoded_frames


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    return encoded_frames(tmp_path_factory.mktemp("h264"))


def _numbering(frames, upto):
    """(log2 MaxFrameNum, frame_num of frame UPTO) of the encoded stream."""
    check = SliceCheck("h264", None)
    for data, _ in frames[:upto + 1]:
        check(data)
    return check.sps[0][1], check.prev


@pytest.mark.parametrize("then", ["missing", "refused", "unknown pps"])
def test_noise_that_passed_goes_with_what_reveals_it(frames, tmp_path, then):
    log2, prev = _numbering(frames, 5)
    modulus = 1 << log2
    # passes every check: a P-slice of PPS 0 numbered as the next reference frame
    passes = annexb(h264_slice(0x41, 0, 0, (prev + 1) % modulus, log2))
    reveals = {
        "missing": annexb(h264_slice(0x41, 0, 0, (prev + 6) % modulus, log2)),
        "refused": annexb(b"\xc1" + bytes(30)),  # forbidden bit
        "unknown pps": annexb(h264_slice(0x41, 0, 13, (prev + 2) % modulus, log2)),
    }[then]
    infos, _ = drive(frames, tmp_path, [*range(6), (6, passes), (7, reveals), GOP,
                                        *range(GOP + 1, 2 * GOP)])
    # frames 0-5 (5 is written once the noise after it passed), then the next GOP whole
    assert [i.frames for i in infos] == [6, GOP]
    for info in infos:
        assert ffmpeg_errors(info.path) == "", info.path.name


def test_a_keyframe_whose_next_packet_is_refused_leaves_no_empty_segment(frames, tmp_path):
    """The keyframe that began a segment is held back like any packet: dropped with the
    refusal after it, it leaves a segment of no frame, deleted rather than stored."""
    infos, _ = drive(frames, tmp_path, [0, (1, "noise"), *range(GOP, 2 * GOP)])
    assert [(i.frames, i.duration_ms) for i in infos] == [(GOP, 1000)]
    spooled = sorted(p.name for p in (tmp_path / "spool").rglob("*") if p.is_file())
    assert spooled == sorted([infos[0].path.name, infos[0].path.with_suffix(".json").name])
