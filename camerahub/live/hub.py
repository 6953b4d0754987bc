"""The live hub: one Channel per watched camera, viewers attach and leave freely."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

from camerahub.video.errors import VideoError
from camerahub.video.snapshot import SNAPSHOT_INPUT

from . import snapshot
from .channel import Channel, LiveOptions
from .errors import LiveUnavailable
from .upstream import unavailable
from .viewer import Viewer

log = logging.getLogger(__name__)


def channel_key(camera_id: str, profile: str | None) -> str:
    """The hub's name of a camera's channel: the id (live profile) or id@profile."""
    return camera_id if profile is None else f"{camera_id}@{profile}"


class LiveHub:
    """Cameras' live streams shared by every viewer (go2rtc's model, for fMP4 over HTTP).

    url_of(camera_id) returns the RTSP URL to open (it may block: it runs in the channel's
    thread); forget(camera_id) drops a cached URL after a failure.
    """

    def __init__(self, url_of: Callable[[str], str], options: LiveOptions | None = None,
                 forget: Callable[[str], None] | None = None) -> None:
        self.url_of = url_of
        self.options = options or LiveOptions()
        self.forget = forget
        self.upstreams_opened = 0
        # ms from a frame leaving the demuxer to its fragment handed to a viewer's socket
        self.sent_latency_ms: deque[float] = deque(maxlen=20000)
        self._channels: dict[str, Channel] = {}
        # each closed channel's last init segment and keyframe: a tile's poster at once
        self._recent: dict[str, tuple[bytes, object, float]] = {}
        self._lock = threading.Lock()
        self._opening = threading.Semaphore(self.options.max_opening)
        self._closed = False

    def subscribe(self, camera_id: str, loop: asyncio.AbstractEventLoop | None = None,
                  profile: str | None = None, event: asyncio.Event | None = None) -> Viewer:
        """A new viewer of the camera (its live profile, or the named one); the upstream
        opens if nobody watches that camera and profile yet. event: set when it has items
        (shared by the tiles of one wall socket; its own by default)."""
        opts = self.options
        viewer = Viewer(camera_id, opts.max_queue, loop, opts.max_lag_s, opts.max_skips,
                        profile, event)
        key = channel_key(camera_id, profile)
        with self._lock:
            if self._closed:
                raise LiveUnavailable("the live hub is shutting down")
            channel = self._channels.get(key)
            if channel is None or not channel.add(viewer):
                channel = self._open(camera_id, viewer, profile)
        viewer.channel = channel
        return viewer

    def prepare(self, camera_id: str, seconds: float = 15.0) -> None:
        """A viewer of the camera's live profile is on its way (a wall's tile got its token):
        open the upstream now, or keep it open, for at least `seconds`, so that the tile finds
        the init segment and the latest GOP waiting instead of an RTSP open and a keyframe.
        Nothing is sent to anyone until a viewer attaches (decided and audited then)."""
        with self._lock:
            if self._closed:
                return
            channel = self._channels.get(camera_id)
            if channel is not None and channel.reserve(seconds):
                return
            channel = Channel(camera_id, self.url_of, self.options, self._on_closed,
                              opening=self._opening)
            channel.reserve(seconds)
            self._channels[channel.key] = channel
            self.upstreams_opened += 1
            channel.start()

    def _open(self, camera_id: str, viewer: Viewer, profile: str | None = None) -> Channel:
        """Start a new channel with its first viewer (caller holds the lock).

        The viewer is attached before the thread starts: a camera that fails at once
        (connection refused) must find it there to tell it why, not leave it waiting
        for the first-item timeout.
        """
        url_of = self.url_of if profile is None else (lambda cam: self.url_of(cam, profile))
        channel = Channel(camera_id, url_of, self.options, self._on_closed, profile,
                          self._opening)
        channel.add(viewer)
        self._channels[channel.key] = channel
        self.upstreams_opened += 1
        channel.start()
        return channel

    def unsubscribe(self, viewer: Viewer) -> None:
        """The viewer left (its connection closed)."""
        viewer.close()
        if isinstance(viewer.channel, Channel):
            viewer.channel.remove(viewer)

    def _on_closed(self, channel: Channel) -> None:
        with self._lock:
            if channel.init is not None and channel.latest is not None:
                self._recent[channel.key] = (channel.init, channel.latest, time.time())
            if self._channels.get(channel.key) is channel:
                del self._channels[channel.key]
        if channel.error and self.forget is not None:
            self.forget(channel.camera_id)

    async def first(self, viewer: Viewer) -> bytes:
        """The viewer's init segment; LiveUnavailable if the camera cannot be read."""
        try:
            item = await viewer.next(self.options.first_item_timeout_s)
        except TimeoutError:
            self.unsubscribe(viewer)
            raise LiveUnavailable(f"camera {viewer.camera_id}: no video in time") from None
        if not isinstance(item, bytes):
            self.unsubscribe(viewer)
            raise LiveUnavailable(viewer.reason or f"camera {viewer.camera_id}: no video")
        return item

    async def stream(self, viewer: Viewer, init: bytes) -> AsyncIterator[bytes]:
        """The viewer's response body; ends after options.max_view_s so that a long view
        is authorized (and audited) again, and detaches the viewer however it ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.max_view_s
        try:
            async for chunk in viewer.chunks(init):
                yield chunk
                if loop.time() > deadline:
                    break
        finally:
            self.unsubscribe(viewer)

    def note_sent(self, received: float) -> None:
        """A fragment received at `received` (time.time()) was just sent to a viewer."""
        self.sent_latency_ms.append((time.time() - received) * 1000.0)

    def snapshot(self, camera_id: str, quality: int = 85, recent_s: float | None = None
                 ) -> bytes:
        """A JPEG from the latest keyframe of a running channel, else from a short session.

        recent_s: a keyframe kept from a channel closed at most that long ago will do, and
        no session is opened for it (LiveUnavailable when there is none): a tile's poster.
        """
        with self._lock:
            channel = self._channels.get(camera_id)
            init, latest = (channel.init, channel.latest) if channel else (None, None)
            kept = self._recent.get(camera_id)
        if (init is None or latest is None) and recent_s is not None:
            if kept is None or time.time() - kept[2] > recent_s:
                raise LiveUnavailable(f"camera {camera_id}: no recent picture")
            init, latest = kept[0], kept[1]
        try:
            if init is not None and latest is not None:
                return snapshot.from_fragment(init, latest, quality)
            return snapshot.from_camera(self.url_of(camera_id),
                                        replace(SNAPSHOT_INPUT, ca_file=self.options.ca_file),
                                        quality)
        except VideoError as exc:
            log.warning("live: snapshot of %s failed: %s", camera_id, exc)
            if self.forget is not None:
                self.forget(camera_id)
            raise unavailable(camera_id, exc) from None

    def keyframes_received(self) -> dict[str, list[float]]:
        """Per open channel: when (time.time()) its recent keyframes left the demuxer."""
        with self._lock:
            channels = list(self._channels.values())
        return {c.key: list(c.keyframes_received) for c in channels}

    def stats(self) -> dict[str, dict]:
        """Per watched camera (camera@profile for a named profile): viewers, fragments sent,
        seconds open, time to first fragment."""
        with self._lock:
            channels = list(self._channels.values())
        now = time.monotonic()
        return {c.key: {"viewers": c.viewers, "fragments": c.fragments,
                              "open_s": round(now - c.started, 1),
                              "first_fragment_s": c.first_fragment_s, "size": c.size,
                        "timings": dict(c.timings), "started_at": c.started_wall}
                for c in channels}

    def close(self, timeout: float = 15.0) -> None:
        """Stop every channel (viewers see the end of their stream) and wait for them."""
        with self._lock:
            self._closed = True
            channels = list(self._channels.values())
        for channel in channels:
            channel.stop()
        deadline = time.monotonic() + timeout
        for channel in channels:
            channel.join(max(0.0, deadline - time.monotonic()))
