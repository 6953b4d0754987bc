"""Packets that are not footage are never written: the segment before them is kept, and
recording resumes at the next keyframe that decodes (file inputs, no network)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import av
import pytest

from camerahub.storage import SpoolSink
from camerahub.video import Segmenter, SegmenterConfig, StreamEnded
from tests.support.media import FPS, GOP, ffmpeg_errors, forbidden_bit

T0 = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)


def damaged_copy(source, target, damage: dict[int, callable]) -> list[bool]:
    """Remux source into target, packet n's bytes passed through damage[n]; keyframe flags."""
    keyflags = []
    with av.open(str(source)) as src, av.open(str(target), "w", format="mpegts") as out:
        stream = out.add_stream_from_template(src.streams.video[0])
        n = 0
        for packet in src.demux(video=0):
            if packet.dts is None or not packet.size:
                continue
            if n in damage:
                copy = av.Packet(damage[n](bytes(packet)))
                copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
                copy.is_keyframe = packet.is_keyframe
                packet = copy
            keyflags.append(bool(packet.is_keyframe))
            packet.stream = stream
            out.mux(packet)
            n += 1
    return keyflags


def scrambled_tail(data: bytes) -> bytes:
    """Slice data from the middle on replaced by noise: headers intact, picture broken."""
    rng = random.Random(11)
    half = len(data) // 2
    return data[:half] + rng.randbytes(len(data) - half)


def record(path, spool):
    infos = []
    config = SegmenterConfig(segment_seconds=2, drift_threshold_s=None)
    with pytest.raises(StreamEnded):
        Segmenter("cam-1", "hq", SpoolSink(spool), infos.append, config,
                  clock=lambda: T0).record(str(path))
    return infos


@pytest.mark.parametrize(("victim", "damage"), [
    (5 * GOP + 7, forbidden_bit),  # a P-frame of noise mid-segment
    (6 * GOP, scrambled_tail),  # a keyframe whose picture does not decode
], ids=["bad-packet", "bad-keyframe"])
def test_recording_skips_what_is_not_footage_and_keeps_the_rest(h264_ts, tmp_path, victim,
                                                                 damage):
    damaged = tmp_path / "damaged.ts"
    keyflags = damaged_copy(h264_ts, damaged, {victim: damage})
    infos = record(damaged, tmp_path / "spool")
    resume = next(n for n in range(victim + 1, len(keyflags)) if keyflags[n])
    # the frame before the refused one goes too: it was held back, and noise that passes
    # the checks by chance comes right before noise that does not
    lost = resume - victim + 1
    assert sum(i.frames for i in infos) == len(keyflags) - lost
    for info in infos:
        assert ffmpeg_errors(info.path) == "", info.path.name
    # the footage on each side is kept, with the hole where the skipped frames were
    holes = [(a.end_utc, b.start_utc) for a, b in zip(infos, infos[1:])
             if b.start_utc != a.end_utc]
    assert len(holes) == 1
    hole_ms = (holes[0][1] - holes[0][0]).total_seconds() * 1000
    # in presentation order the held frame may lie before frames already written (B-frames)
    assert (lost - 1) * 1000 / FPS - 1 <= hole_ms <= lost * 1000 / FPS + 1
