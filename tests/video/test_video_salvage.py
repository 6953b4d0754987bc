"""Recovery proves playability: a segment cut at any byte keeps exactly its whole frames.

A kill -9 leaves the muxer's output cut at a 64 KiB block boundary: mid TS packet and mid
frame. salvage_segment must keep whole 188-byte packets ending with the last complete
access unit, decodable by an independent decoder to the last frame, and nothing is lost:
the spool quarantines the bytes it cuts off.
"""

from __future__ import annotations

import json

import av
import pytest

from camerahub.storage import Spool, SpoolSink
from camerahub.video import Segmenter, SegmenterConfig, StreamEnded, salvage_segment
from tests.support.media import ffmpeg_errors

TS = 188


@pytest.fixture(scope="module")
def segment(h264_ts, tmp_path_factory):
    """A finished 4 s segment (B-frames on) and where each of its frames begins."""
    spool = tmp_path_factory.mktemp("spool")
    infos = []
    config = SegmenterConfig(segment_seconds=4, drift_threshold_s=None)
    with pytest.raises(StreamEnded):
        Segmenter("cam-1", "hq", SpoolSink(spool), infos.append, config).record(str(h264_ts))
    path = infos[1].path
    with av.open(str(path)) as container:
        starts = [p.pos for p in container.demux(video=0) if p.size]
    return path.read_bytes(), starts


def complete_frames(starts: list[int], cut: int) -> int:
    """Frames known whole in the first `cut` bytes: each one the next one follows."""
    whole = cut // TS * TS
    return max(0, sum(1 for pos in starts if pos + TS <= whole) - 1)


def offsets(data: bytes) -> list[int]:
    """Every byte of the last four TS packets, every 47th of the last 16 KB, and a sample
    across the file."""
    size = len(data)
    tail = range(size - 4 * TS, size)
    near = range(size - 16_384, size - 4 * TS, 47)
    spread = range(4 * TS, size - 16_384, 4093)
    return [*spread, *near, *tail]


def test_a_cut_at_any_byte_keeps_exactly_the_whole_frames(segment, tmp_path):
    data, starts = segment
    cut_file, prefixes = tmp_path / "cut.ts", {}
    for cut in offsets(data):
        cut_file.write_bytes(data[:cut])
        check = salvage_segment(cut_file)
        expected = complete_frames(starts, cut)
        assert check.frames == expected, cut
        assert check.playable == (expected > 0), (cut, check.reason)
        if check.playable:
            assert check.playable_bytes % TS == 0 and check.playable_bytes <= cut
            assert check.playable_bytes == starts[expected]  # up to the next frame's start
            prefixes[check.playable_bytes] = check.frames
    assert len(prefixes) > 20
    kept = tmp_path / "kept.ts"
    for size, frames in sorted(prefixes.items()):  # each distinct prefix once
        kept.write_bytes(data[:size])
        assert ffmpeg_errors(kept) == "", size
        with av.open(str(kept)) as container:
            assert sum(1 for _ in container.decode(video=0)) == frames


@pytest.mark.parametrize("fraction", [0.3, 0.61, 0.999])
def test_recovery_finalizes_the_playable_part_and_quarantines_the_rest(segment, tmp_path,
                                                                       fraction):
    data, _ = segment
    cut = int(len(data) * fraction)
    spool = Spool(tmp_path / "spool")
    leftover = spool.incoming / "hq~cam-1~20261126T031500.000Z.ts"
    leftover.write_bytes(data[:cut])
    leftover.with_name(leftover.stem + ".open.json").write_text(json.dumps(
        {"camera_id": "cam-1", "site": "hq", "start_utc": "2026-11-26T03:15:00.000Z"}))

    report = spool.recover(salvage_segment)

    (item,) = spool.ready_items()
    assert report.finalized == [item.path] and item.bytes % TS == 0
    assert ffmpeg_errors(item.path) == ""
    (tail,) = report.trimmed
    assert item.path.read_bytes() + tail.read_bytes() == data[:cut]  # nothing lost
    assert "cut off after crash" in tail.with_name(
        leftover.stem + ".tail.reason.txt").read_text()
    assert list(spool.incoming.iterdir()) == []


def test_recovery_cuts_partial_packets_whatever_the_probe_says(segment, tmp_path):
    """A probe that vouches for the whole file still never gets a partial packet finalized."""
    from types import SimpleNamespace

    data, _ = segment
    spool = Spool(tmp_path / "spool")
    leftover = spool.incoming / "hq~cam-1~20261126T031500.000Z.ts"
    leftover.write_bytes(data[: 20 * TS + 100])
    leftover.with_name(leftover.stem + ".open.json").write_text(json.dumps(
        {"camera_id": "cam-1", "site": "hq", "start_utc": "2026-11-26T03:15:00.000Z"}))
    lenient = SimpleNamespace(playable=True, duration_ms=100, frames=1, keyframes=1,
                              codec="h264", width=320, height=240)
    spool.recover(lambda _: lenient)
    (item,) = spool.ready_items()
    assert item.bytes == 20 * TS
