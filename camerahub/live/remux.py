"""Remux (never transcode) a live H.264 stream into fragmented MP4, one fragment per GOP."""

from __future__ import annotations

import contextlib

import av

from .boxes import BoxSplitter, Fragment

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
# flush_packets: hand each fragment to us as soon as it is written, not when a 32 KiB
# I/O buffer happens to fill, so a fragment leaves at its GOP's end.
MUXER_OPTIONS = {"movflags": MOVFLAGS, "flush_packets": "1"}


class _Sink:
    """A non-seekable file object that forwards the muxer's writes to a BoxSplitter."""

    def __init__(self, splitter: BoxSplitter) -> None:
        self.splitter = splitter
        self.ready: list[bytes | Fragment] = []

    def write(self, data: bytes) -> int:
        """Split what the muxer wrote into init segment and fragments."""
        self.ready += self.splitter.feed(bytes(data))
        return len(data)


class FragmentMuxer:
    """Packets of one input video stream in; init segment and fragments out."""

    def __init__(self, stream: av.video.stream.VideoStream) -> None:
        self.input = stream
        self.sink = _Sink(BoxSplitter())
        self.output = av.open(self.sink, "w", format="mp4", options=MUXER_OPTIONS)
        self.stream = self.output.add_stream_from_template(stream)
        self.origin: int | None = None

    @property
    def size(self) -> tuple[int, int]:
        """Width and height of the video."""
        return self.input.width, self.input.height

    def feed(self, packet: av.Packet) -> list[bytes | Fragment]:
        """Mux one packet; returns the units it completed (usually none)."""
        if packet.dts is None or packet.size == 0:
            return []
        if self.origin is None:
            if not packet.is_keyframe:
                return []  # a fragment must open on a keyframe
            self.origin = packet.dts
        packet.dts -= self.origin
        packet.pts = packet.dts if packet.pts is None else packet.pts - self.origin
        if packet.dts < 0:
            return []  # a late packet from before the first keyframe
        packet.stream = self.stream
        self.output.mux(packet)
        return self._take()

    def _take(self) -> list[bytes | Fragment]:
        ready, self.sink.ready = self.sink.ready, []
        return ready

    def close(self) -> None:
        """Close the muxer (its trailer is not needed by anyone)."""
        # closing after a failed write may fail too; there is nothing left to save then
        with contextlib.suppress(av.error.FFmpegError):
            self.output.close()
