"""Video boundary: stream-copy segmenter, segment probe, clip remux and snapshots (PyAV)."""

from camerahub.video.clip import iter_mp4, remux_to_mp4
from camerahub.video.errors import (
    SegmentUnreadable,
    StreamEnded,
    StreamError,
    StreamInvalid,
    StreamOpenError,
    StreamStalled,
    VideoError,
)
from camerahub.video.probe import SegmentCheck, probe_segment, salvage_segment
from camerahub.video.segmenter import (
    Backoff,
    Segmenter,
    SegmenterConfig,
    run_camera,
)
from camerahub.video.sink import SegmentFile, SegmentSink
from camerahub.video.snapshot import snapshot_jpeg, still_at
from camerahub.video.source import InputOptions

__all__ = [
    "Backoff", "InputOptions", "SegmentCheck", "SegmentFile", "SegmentSink", "SegmentUnreadable",
    "Segmenter", "SegmenterConfig", "StreamEnded", "StreamError", "StreamInvalid",
    "StreamOpenError", "StreamStalled", "VideoError", "iter_mp4", "probe_segment",
    "remux_to_mp4", "run_camera", "salvage_segment", "snapshot_jpeg", "still_at",
]
