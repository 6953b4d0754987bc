"""Session ends sorted by kind, against real local servers (HTTP stands in for RTSP)."""

from __future__ import annotations

import threading

import pytest

from camerahub.storage import SpoolSink
from camerahub.video import (
    Backoff,
    InputOptions,
    Segmenter,
    SegmenterConfig,
    StreamEnded,
    StreamError,
    StreamOpenError,
    StreamStalled,
    run_camera,
)
from camerahub.video.source import ffmpeg_options, redact
from tests.support.net import free_port

QUICK = InputOptions(open_timeout_s=5, read_timeout_s=1.0)


def make_segmenter(spool, infos, seconds=5.0):
    """A segmenter with short timeouts."""
    config = SegmenterConfig(segment_seconds=seconds, drift_threshold_s=None, input=QUICK)
    return Segmenter("cam-1", "hq", SpoolSink(spool), infos.append, config)


def test_http_source_is_segmented_like_a_file(media_server, tmp_path):
    infos = []
    with pytest.raises(StreamEnded):
        make_segmenter(tmp_path, infos).record(media_server.url("/ok.ts"))
    assert [info.duration_ms for info in infos] == [5000] * 6 + [2000]


def test_stalled_stream_closes_the_segment_and_raises_stalled(media_server, tmp_path):
    infos = []
    with pytest.raises(StreamStalled) as stalled:
        make_segmenter(tmp_path, infos).record(media_server.url("/stall.ts"))
    assert infos, "the data received before the stall is kept"
    assert stalled.value.last_end_utc == infos[-1].end_utc
    assert list((tmp_path / "incoming").iterdir()) == []


@pytest.mark.parametrize(
    ("path", "kind"), [("/auth.ts", "unauthorized"), ("/missing.ts", "not_found")]
)
def test_open_failures_are_sorted_by_kind(media_server, tmp_path, path, kind):
    with pytest.raises(StreamOpenError) as failed:
        make_segmenter(tmp_path, []).record(media_server.url(path))
    assert failed.value.kind == kind


def test_refused_connection_is_unreachable(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/x.ts"
    with pytest.raises(StreamOpenError) as failed:
        make_segmenter(tmp_path, []).record(url)
    assert failed.value.kind == "unreachable"


def test_run_camera_reconnects_after_each_session_end(media_server, tmp_path):
    infos, events = [], []
    stop = threading.Event()

    def on_event(exc: StreamError) -> None:
        events.append(exc)
        if len(events) == 2:
            stop.set()

    segmenter = make_segmenter(tmp_path, infos, seconds=10)
    run_camera(segmenter, media_server.url("/ok.ts"), stop, on_event,
               Backoff(initial_s=0.01, max_s=0.05))
    assert [type(e) for e in events] == [StreamEnded, StreamEnded]
    assert len(infos) == 8  # two full sessions of four segments


def test_run_camera_gives_up_on_bad_credentials(media_server, tmp_path):
    events = []
    with pytest.raises(StreamOpenError) as failed:
        run_camera(make_segmenter(tmp_path, []), media_server.url("/auth.ts"),
                   threading.Event(), events.append, Backoff(initial_s=0.01))
    assert failed.value.kind == "unauthorized" and events == [failed.value]


def test_rtsp_options_and_redaction():
    options = ffmpeg_options("rtsp://admin:secret@127.0.41.1:8554/main", QUICK)
    assert options == {"rtsp_transport": "tcp", "timeout": "1000000", "stimeout": "1000000"}
    assert redact("rtsp://admin:secret@127.0.41.1:8554/main") == "rtsp://***@127.0.41.1:8554/main"
