"""probe_segment, remux_to_mp4 and snapshot_jpeg on segments the segmenter really made."""

from __future__ import annotations

import io

import av
import cv2
import numpy as np
import pytest

from camerahub.storage import SpoolSink
from camerahub.video import (
    Segmenter,
    SegmenterConfig,
    SegmentUnreadable,
    StreamEnded,
    iter_mp4,
    probe_segment,
    remux_to_mp4,
    salvage_segment,
    snapshot_jpeg,
)
from tests.support.media import FPS, SECONDS, SIZE, ffmpeg_errors


@pytest.fixture(scope="module")
def segment_paths(h264_ts, tmp_path_factory):
    """Four segments of the 32 s input (10, 10, 10, 2 s)."""
    infos = []
    spool = tmp_path_factory.mktemp("spool")
    config = SegmenterConfig(segment_seconds=10, drift_threshold_s=None)
    with pytest.raises(StreamEnded):
        Segmenter("cam-1", "hq", SpoolSink(spool), infos.append, config).record(str(h264_ts))
    return [info.path for info in infos]


def mp4_packets(data: bytes):
    """Demuxed video packets of an MP4 held in memory."""
    with av.open(io.BytesIO(data)) as container:
        assert container.format.name.startswith("mov")
        return [p for p in container.demux(video=0) if p.size]


def decoded_frames(data: bytes) -> int:
    """How many frames an MP4 in memory decodes to."""
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_probe_reports_a_finished_segment(segment_paths):
    check = probe_segment(segment_paths[0])
    assert check.playable and check.first_is_keyframe and check.reason is None
    assert (check.duration_ms, check.frames, check.keyframes) == (10_000, 150, 10)
    assert (check.codec, check.width, check.height) == ("h264", *SIZE)


def test_probe_refuses_a_truncated_tail_and_salvage_keeps_what_decodes(segment_paths, tmp_path):
    """A kill -9 cuts mid-packet and mid-frame: the whole file is not evidence as it is (its
    last frame does not decode); its playable prefix is whole TS packets and decodes clean."""
    data = segment_paths[0].read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: len(data) // 2 + 77])  # mid-packet, as a kill -9 leaves it
    check = probe_segment(cut)
    assert not check.playable and "188" in check.reason
    salvaged = salvage_segment(cut)
    assert salvaged.playable and 0 < salvaged.duration_ms < 10_000
    assert salvaged.playable_bytes % 188 == 0 and salvaged.playable_bytes < len(data) // 2
    kept = tmp_path / "kept.ts"
    kept.write_bytes(data[: salvaged.playable_bytes])
    assert ffmpeg_errors(kept) == ""
    assert probe_segment(kept).frames == salvaged.frames


def test_probe_refuses_whole_packets_whose_last_frame_is_cut(segment_paths, tmp_path):
    data = segment_paths[0].read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: len(data) // 2 // 188 * 188])  # whole packets, last frame cut
    assert ffmpeg_errors(cut) != ""  # an independent decoder agrees that it is damaged
    check = probe_segment(cut)
    assert not check.playable and "decode" in check.reason


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda data: b"", "cannot demux"),
        (lambda data: bytes(range(256)) * 40, "cannot demux"),
        (lambda data: data[len(data) // 3:], "first packet is not a keyframe"),
    ],
    ids=["empty", "garbage", "headless"],
)
def test_probe_rejects_what_is_not_playable(segment_paths, tmp_path, make, reason):
    bad = tmp_path / "bad.ts"
    bad.write_bytes(make(segment_paths[0].read_bytes()))
    check = probe_segment(bad)
    assert not check.playable and reason in check.reason


def test_remux_concatenates_all_segments_into_one_mp4(segment_paths):
    out = io.BytesIO()
    written = remux_to_mp4(segment_paths, 0, None, out)
    data = out.getvalue()
    assert written == len(data)
    packets = mp4_packets(data)
    assert packets[0].is_keyframe and len(packets) == SECONDS * FPS
    assert decoded_frames(data) == SECONDS * FPS


def test_remux_trims_to_the_enclosing_keyframes(segment_paths):
    out = io.BytesIO()
    sources = [io.BytesIO(p.read_bytes()) for p in segment_paths]  # file objects, as from S3
    remux_to_mp4(sources, 12.5, 21.0, out)
    packets = mp4_packets(out.getvalue())
    assert packets[0].is_keyframe
    assert len(packets) == 9 * FPS  # keyframe at 12 s up to the keyframe at 21 s


def test_remux_of_a_range_inside_one_gop_keeps_that_gop(segment_paths):
    out = io.BytesIO()
    remux_to_mp4(segment_paths, 12.2, 12.6, out)
    packets = mp4_packets(out.getvalue())
    assert packets[0].is_keyframe and len(packets) == FPS  # the GOP from 12 s to 13 s


def test_iter_mp4_streams_before_the_last_segment_is_read(segment_paths):
    read = []

    def sources():
        for path in segment_paths:
            read.append(path)
            yield path

    chunks = iter_mp4(sources())
    first = next(chunks)
    assert len(read) == 1 and first[4:8] == b"ftyp"
    rest = b"".join(chunks)
    assert decoded_frames(first + rest) == SECONDS * FPS


def test_remux_refuses_an_unreadable_segment(segment_paths, tmp_path):
    junk = tmp_path / "junk.ts"
    junk.write_bytes(b"\0" * 4096)
    with pytest.raises(SegmentUnreadable):
        remux_to_mp4([segment_paths[0], junk], 0, None, io.BytesIO())


def test_snapshot_is_a_jpeg_of_the_first_frame(segment_paths):
    jpeg = snapshot_jpeg(segment_paths[1])
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert jpeg[:2] == b"\xff\xd8" and image.shape == (SIZE[1], SIZE[0], 3)
