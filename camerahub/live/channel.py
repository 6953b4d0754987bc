"""One upstream RTSP session per camera, remuxed once and fanned out to every viewer."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import av

from camerahub.video.errors import StreamEnded, VideoError
from camerahub.video.source import InputOptions, redact

from .boxes import Fragment
from .errors import LiveUnavailable
from .remux import FragmentMuxer
from .upstream import open_stream, packets, unavailable, video_stream
from .viewer import Item, Viewer, wake_all

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveOptions:
    """Tuning of the hub; seconds unless named otherwise."""

    linger_s: float = 30.0  # keep the upstream this long after the last viewer leaves
    # A viewer whose queue holds more than max_lag_s of video (or max_queue fragments, one
    # per frame) skips to the next keyframe; after max_skips skips in a row without taking
    # anything it is dropped (a client that stopped reading).
    max_queue: int = 300
    max_lag_s: float = 3.0
    max_skips: int = 3
    max_gop: int = 600  # frames kept since the latest keyframe, for a new viewer's start
    open_timeout_s: float = 10.0
    # Upstreams opening at once (ONVIF stream URI, RTSP open); the others wait their turn.
    # 100 cameras opening together held the GIL long enough to delay the frames of those
    # already streaming by 0.5-1.2 s in half the runs (p99 of a 100-camera start; 20-38 ms
    # with 16, 35-80 ms with 32).
    max_opening: int = 16
    read_timeout_s: float = 10.0
    first_item_timeout_s: float = 20.0  # a new viewer's wait for the init segment
    # One response lasts at most this long; the browser reconnects with a fresh media
    # token, so live access is re-checked and re-audited, and a server can shut down.
    max_view_s: float = 600.0
    ca_file: str | None = None  # rtsps:// cameras' CAs (defaults.tls_ca_file, resolved)

    @property
    def input(self) -> InputOptions:
        """How patient to be with the camera."""
        return InputOptions(open_timeout_s=self.open_timeout_s,
                            read_timeout_s=self.read_timeout_s, ca_file=self.ca_file)


class Channel:
    """A camera's live stream: a thread that reads the camera and feeds each Viewer."""

    def __init__(self, camera_id: str, url_of: Callable[[str], str], options: LiveOptions,
                 on_closed: Callable[[Channel], None], profile: str | None = None,
                 opening: threading.Semaphore | None = None) -> None:
        self.camera_id = camera_id
        self.profile = profile
        self.key = camera_id if profile is None else f"{camera_id}@{profile}"
        self.url_of = url_of
        self.options = options
        self.on_closed = on_closed
        self.opening = opening if opening is not None else contextlib.nullcontext()
        self.init: bytes | None = None
        self.latest: Fragment | None = None  # the latest keyframe's fragment
        self.gop: list[Fragment] = []  # fragments since (and with) the latest keyframe
        self.keyframes_received: deque[float] = deque(maxlen=120)  # for latency figures
        self.size: tuple[int, int] | None = None
        self.error: str | None = None
        self.closing = False
        self.fragments = 0
        self.started = time.monotonic()
        self.started_wall = time.time()  # to set the timings beside a browser's clock
        self.first_fragment_s: float | None = None
        # seconds from the channel's start to each start-up step: url (the camera told its
        # stream URI), open (RTSP DESCRIBE/SETUP/PLAY done), init, keyframe (the first one)
        self.timings: dict[str, float] = {}
        self.stopped = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._viewers: set[Viewer] = set()
        self._idle_since: float | None = None
        self._reserved_until = 0.0  # kept open for viewers on their way (a wall starting)
        self._thread = threading.Thread(target=self._run, name=f"live-{camera_id}", daemon=True)

    # --- viewers ---------------------------------------------------------------------------

    def start(self) -> None:
        """Open the upstream in the channel's own thread."""
        self._thread.start()

    def add(self, viewer: Viewer) -> bool:
        """Attach a viewer: init segment and the frames since the latest keyframe first (the
        player decodes them and starts at the live edge); False if closing."""
        with self._lock:
            if self.closing:
                return False
            if self.init is not None:
                viewer.prime(self.init, self.gop)
            self._viewers.add(viewer)
            self._idle_since = None
        return True

    def reserve(self, seconds: float) -> bool:
        """Stay open at least this long for viewers announced but not yet attached; False
        if closing."""
        with self._lock:
            if self.closing:
                return False
            self._reserved_until = max(self._reserved_until, time.monotonic() + seconds)
            self._mark_idle()
        return True

    def remove(self, viewer: Viewer) -> None:
        """Detach a viewer; the upstream lingers for options.linger_s after the last one."""
        with self._lock:
            self._viewers.discard(viewer)
            self._mark_idle()

    @property
    def viewers(self) -> int:
        """Number of attached viewers."""
        with self._lock:
            return len(self._viewers)

    def stop(self) -> None:
        """Ask the thread to end (it does within a packet or a read timeout)."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        """Wait for the thread to end."""
        self._thread.join(timeout)

    # --- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        reason = None
        try:
            with self.opening:  # the hub's limit on upstreams opening at once
                url = self.url_of(self.camera_id)
                self._step("url")
                container = open_stream(url, self.options.input)
            self._stream(url, container)
        except LiveUnavailable as exc:
            reason = str(exc)
        except VideoError as exc:
            log.warning("live: camera %s: %s", self.camera_id, redact(str(exc)))
            reason = str(unavailable(self.camera_id, exc))
        except Exception:  # noqa: BLE001 - one camera's failure must not take the hub down
            log.exception("live: camera %s: channel failed", self.camera_id)
            reason = f"camera {self.camera_id}: live view failed"
        finally:
            self._finish(reason)

    def _stream(self, url: str, container: av.container.InputContainer) -> None:
        """Read, remux and publish until stopped, idle past the linger time, or failed."""
        with container:
            self._step("open")
            stream = video_stream(container, url)
            muxer = FragmentMuxer(stream)
            self.size = muxer.size
            try:
                for packet in packets(container, stream, url):
                    if self._stop.is_set() or self._idle_expired():
                        return
                    for unit in muxer.feed(packet):
                        self._publish(unit)
            finally:
                muxer.close()
        if self._stop.is_set():  # we are closing: the end of the stream is ours, not news
            return
        raise StreamEnded(f"camera {self.camera_id} ended the stream")

    def _publish(self, unit: Item) -> None:
        """Hand a unit to every viewer; a viewer whose queue is full is dropped."""
        with self._lock:
            if isinstance(unit, Fragment):
                if unit.keyframe:
                    self.latest, self.gop = unit, []
                    self.keyframes_received.append(unit.received)
                if len(self.gop) < self.options.max_gop:
                    self.gop.append(unit)
                self.fragments += 1
                if self.first_fragment_s is None:
                    self.first_fragment_s = time.monotonic() - self.started
                    self._step("keyframe")
            else:
                self.init = unit
                self._step("init")
            viewers = list(self._viewers)
            dropped = [v for v in viewers if not v.offer(unit, wake=False)]
            for viewer in dropped:
                self._viewers.discard(viewer)
                log.info("live: camera %s: viewer %d dropped (%s)", self.camera_id, viewer.id,
                         viewer.reason)
            self._mark_idle()
        wake_all(viewers)  # outside the lock: a new viewer need not wait for the hand-over

    def _step(self, name: str) -> None:
        self.timings.setdefault(name, round(time.monotonic() - self.started, 3))

    def _mark_idle(self) -> None:
        if not self._viewers and self._idle_since is None:
            self._idle_since = time.monotonic()

    def _idle_expired(self) -> bool:
        """True (and closing from now on) once nobody watched for linger_s."""
        with self._lock:
            if self._viewers or self._idle_since is None:
                return False
            now = time.monotonic()
            if now - self._idle_since < self.options.linger_s or now < self._reserved_until:
                return False
            self.closing = True
            return True

    def _finish(self, reason: str | None) -> None:
        """End every viewer's stream and tell the hub."""
        with self._lock:
            self.closing = True
            self.error = reason
            viewers, self._viewers = list(self._viewers), set()
        for viewer in viewers:
            viewer.close(reason)
        log.info("live: camera %s: upstream closed (%s)", self.camera_id, reason or "idle")
        self.stopped.set()
        self.on_closed(self)
