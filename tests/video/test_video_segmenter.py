"""The segmenter against real H.264: keyframe cuts, playable segments, gapless timing."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import av
import pytest

from camerahub.storage import SpoolItem, SpoolSink
from camerahub.video import (
    Segmenter,
    SegmenterConfig,
    StreamEnded,
    VideoError,
    probe_segment,
)
from tests.support.integrity import decode_problem
from tests.support.media import FPS, GOP, SECONDS, SIZE

GOP_MS = GOP * 1000 // FPS


def record_file(path, spool, seconds=10.0, clock=None, drift=None) -> list[SpoolItem]:
    """Segment a local file completely; the file's end is a StreamEnded."""
    infos: list[SpoolItem] = []
    config = SegmenterConfig(segment_seconds=seconds, drift_threshold_s=drift)
    kwargs = {"clock": clock} if clock else {}
    segmenter = Segmenter("hq-1f-koseki-01", "hq", SpoolSink(spool), infos.append, config,
                          **kwargs)
    with pytest.raises(StreamEnded) as ended:
        segmenter.record(str(path))
    assert ended.value.last_end_utc == infos[-1].end_utc
    return infos


@pytest.fixture(scope="module")
def segments(h264_ts, tmp_path_factory):
    """The 32 s input cut into 10 s segments."""
    spool = tmp_path_factory.mktemp("spool")
    return spool, record_file(h264_ts, spool)


def packets(path):
    """Demuxed (non-empty) video packets of a file."""
    with av.open(str(path)) as container:
        return [p for p in container.demux(video=0) if p.size]


def test_each_segment_starts_with_a_keyframe_and_decodes(segments):
    _, infos = segments
    assert len(infos) == 4
    for info in infos:
        first = packets(info.path)[0]
        assert first.is_keyframe
        with av.open(str(info.path)) as container:
            decoded = sum(1 for _ in container.decode(video=0))
        assert decoded == info.frames
        assert probe_segment(info.path).playable


def test_durations_sum_to_the_input_within_one_gop(segments):
    _, infos = segments
    total = sum(info.duration_ms for info in infos)
    assert abs(total - SECONDS * 1000) <= GOP_MS
    assert sum(info.frames for info in infos) == SECONDS * FPS
    assert [info.duration_ms for info in infos[:-1]] == [10_000] * 3


def test_consecutive_segments_leave_no_gap(segments):
    _, infos = segments
    for previous, current in zip(infos, infos[1:], strict=False):
        assert current.start_utc == previous.start_utc + timedelta(
            milliseconds=previous.duration_ms)


def test_segment_info_describes_the_file(segments):
    spool, infos = segments
    for info in infos:
        data = info.path.read_bytes()
        assert info.path.parent == spool / "ready"
        assert info.bytes == len(data)
        assert info.sha256 == hashlib.sha256(data).hexdigest()
        assert (info.codec, info.width, info.height) == ("h264", *SIZE)
        assert info.keyframes == info.frames // GOP
        assert info.start_utc.tzinfo is not None and info.start_utc.microsecond % 1000 == 0
        sidecar = json.loads(info.path.with_suffix(".json").read_text())
        assert sidecar == info.to_json() and sidecar["path"] == str(info.path)
        assert SpoolItem.from_sidecar(info.path.with_suffix(".json"), info.path) == info
    assert list((spool / "incoming").iterdir()) == []


def test_segments_keep_stream_time_continuous(segments):
    """HLS wants one timeline: each segment's first dts follows the previous segment's."""
    _, infos = segments
    firsts = [packets(info.path)[0] for info in infos]
    for previous, current, info in zip(firsts, firsts[1:], infos, strict=False):
        elapsed = (current.dts - previous.dts) * Fraction(current.time_base)
        assert elapsed * 1000 == info.duration_ms


def test_mp4_input_is_remuxed_to_playable_ts(h264_mp4, tmp_path):
    infos = record_file(h264_mp4, tmp_path, seconds=4)
    assert [info.duration_ms for info in infos] == [4000, 4000, 4000]
    for info in infos:
        assert packets(info.path)[0].is_keyframe
        assert probe_segment(info.path).frames == 4 * FPS


class SteppingClock:
    """A wall clock read at each segment start; it runs 5 s ahead from the third one on."""

    OFFSETS_S = (0, 10, 25, 35)

    def __init__(self) -> None:
        self.base = datetime(2026, 11, 26, 3, 15, 0, tzinfo=UTC)
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return self.base + timedelta(seconds=self.OFFSETS_S[self.calls - 1])


def test_anchor_is_wall_clock_and_drift_reanchors(h264_ts, tmp_path):
    infos = record_file(h264_ts, tmp_path, clock=SteppingClock(), drift=2.0)
    starts = [info.start_utc for info in infos]
    assert starts[0] == datetime(2026, 11, 26, 3, 15, 0, tzinfo=UTC)
    assert starts[1] == starts[0] + timedelta(seconds=10)
    assert starts[2] == starts[0] + timedelta(seconds=25)  # re-anchored: a real jump
    assert starts[3] == starts[2] + timedelta(seconds=10)  # then carried again


def test_stop_event_closes_the_open_segment(h264_ts, tmp_path):
    infos: list[SpoolItem] = []
    stop = threading.Event()

    def on_segment(info):
        infos.append(info)
        stop.set()

    segmenter = Segmenter("cam-1", "hq", SpoolSink(tmp_path), on_segment,
                          SegmenterConfig(segment_seconds=5))
    segmenter.record(str(h264_ts), stop)  # returns instead of raising
    assert len(infos) == 2
    assert infos[1].frames >= 1 and packets(infos[1].path)[0].is_keyframe
    assert list((tmp_path / "incoming").iterdir()) == []


def test_stream_joined_mid_gop_anchors_at_the_first_packet(h264_ts, tmp_path):
    data = h264_ts.read_bytes()
    joined = tmp_path / "joined.ts"
    joined.write_bytes(data[len(data) // 3 // 188 * 188:])  # as if connected mid-GOP
    timed = [p for p in packets(joined) if p.pts is not None]
    first_pts = timed[0].pts
    first_key = next(p for p in timed if p.is_keyframe)
    assert not timed[0].is_keyframe
    t0 = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
    infos = record_file(joined, tmp_path / "spool", clock=lambda: t0)
    lead_ms = round((first_key.pts - first_pts) * Fraction(first_key.time_base) * 1000)
    assert lead_ms > 0
    assert infos[0].start_utc == t0 + timedelta(milliseconds=lead_ms)
    assert packets(infos[0].path)[0].is_keyframe


@pytest.mark.parametrize("camera", ["../etc", "a/b", "cam 1", "", ".hidden", "x" * 65])
def test_ids_that_cannot_name_files_are_refused(tmp_path, camera):
    with pytest.raises(VideoError):
        Segmenter(camera, "hq", SpoolSink(tmp_path), print)


def test_a_segment_whose_write_failed_is_never_published_with_a_digest(h264_ts, tmp_path):
    """Disk full mid-segment: part of a block may be on disk, unhashed. The session must end
    (StreamEnded, so the recorder retries later) with the file abandoned to recovery (which
    hashes what is on disk), never committed with a SHA-256 of bytes the file does not hold.
    Driven through the public Segmenter with a spool whose files all land on /dev/full."""
    import errno
    from pathlib import Path

    from camerahub.storage.spoolfiles import OpenSidecar, SpoolFile

    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("needs /dev/full")

    class FullDiskSpool(SpoolSink):
        """A real spool whose segment files are written to a device that is always full."""

        def __init__(self, root):
            super().__init__(root)
            self.abandoned: list[SpoolFile] = []

        def begin(self, camera_id, site, start_utc, ext):
            return SpoolFile(full, OpenSidecar(camera_id, site, start_utc))

        def abandon(self, file):
            self.abandoned.append(file)

    sink, announced = FullDiskSpool(tmp_path / "spool"), []
    t0 = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
    segmenter = Segmenter("cam-1", "hq", sink, announced.append,
                          SegmenterConfig(segment_seconds=10, drift_threshold_s=None),
                          clock=lambda: t0)
    with pytest.raises(StreamEnded):
        segmenter.record(str(h264_ts))
    assert announced == []
    assert sink.abandoned and sink.abandoned[0].failed.errno == errno.ENOSPC
    with pytest.raises(OSError):  # the spool itself refuses to seal a file that failed
        sink.commit(sink.abandoned[0], duration_ms=1000, frames=15, keyframes=1,
                    codec="h264", width=SIZE[0], height=SIZE[1])
    assert list((tmp_path / "spool" / "ready").iterdir()) == []


class MemorySink:
    """A SegmentSink keeping segments in memory: all the segmenter needs is the interface."""

    class File:
        """Bytes the muxer wrote."""

        def __init__(self) -> None:
            self.data = bytearray()

        def write(self, data: bytes) -> int:
            self.data += data
            return len(data)

    def __init__(self) -> None:
        self.begun: list[tuple] = []
        self.committed: list[tuple[bytes, dict]] = []

    def begin(self, camera_id, site, start_utc, ext):
        self.begun.append((camera_id, site, start_utc, ext))
        return self.File()

    def commit(self, file, **facts):
        self.committed.append((bytes(file.data), facts))
        return len(self.committed)  # the sink's own record of the segment

    def abandon(self, file):
        raise AssertionError("nothing to abandon when every write succeeds")


def test_segmenter_writes_through_any_segment_sink(h264_ts):
    sink, announced = MemorySink(), []
    t0 = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
    segmenter = Segmenter("cam-1", "hq", sink, announced.append,
                          SegmenterConfig(segment_seconds=10, drift_threshold_s=None),
                          clock=lambda: t0)
    with pytest.raises(StreamEnded):
        segmenter.record(str(h264_ts))
    assert announced == [1, 2, 3, 4]  # on_segment gets what commit returned
    starts = [start for _, _, start, _ in sink.begun]
    durations = [facts["duration_ms"] for _, facts in sink.committed]
    assert {(c, s, e) for c, s, _, e in sink.begun} == {("cam-1", "hq", "ts")}
    assert starts == [t0 + timedelta(milliseconds=sum(durations[:i])) for i in range(4)]
    for data, facts in sink.committed:
        assert data[:1] == b"G" and len(data) % 188 == 0  # whole TS packets
        assert (facts["codec"], facts["width"], facts["height"]) == ("h264", *SIZE)
        assert facts["keyframes"] == facts["frames"] // GOP


@pytest.mark.parametrize("bframes", [0, 2])
def test_frames_lost_inside_a_segment_end_it_at_its_last_whole_frame(h264, tmp_path, bframes):
    """Two frames lost in mid-GOP (far less than the frame-gap limit, as in a short stall):
    every stored segment still decodes to its last frame, and the lost GOP's rest is a
    hole between two segments rather than undecodable footage inside one."""
    source = h264(12, bframes=bframes)
    lossy = tmp_path / "lossy.ts"
    with av.open(str(source)) as src, av.open(str(lossy), "w", format="mpegts") as dst:
        stream = src.streams.video[0]
        out = dst.add_stream_from_template(stream)
        index = 0
        for packet in src.demux(stream):
            if packet.dts is None:
                continue
            if index not in (5 * GOP + 7, 5 * GOP + 8):  # mid 6th GOP: inside segment 2
                packet.stream = out
                dst.mux(packet)
            index += 1
    infos = record_file(lossy, tmp_path / "spool", seconds=4.0)
    assert [decode_problem(info.path.read_bytes()) for info in infos] == [None] * len(infos)
    holes = [b.start_utc - a.end_utc for a, b in zip(infos, infos[1:], strict=False)
             if b.start_utc > a.end_utc]
    assert len(holes) == 1 and holes[0] <= timedelta(milliseconds=GOP_MS)
