"""One viewer of a live channel: a bounded queue the channel thread fills and a client drains."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from collections.abc import AsyncIterator

from .boxes import Fragment

Item = bytes | Fragment
_ids = itertools.count(1)


def _set_all(events: list[asyncio.Event]) -> None:
    for event in events:
        event.set()


def wake_all(viewers: list[Viewer]) -> None:
    """Wake the asyncio readers of these viewers with one call per event loop (offer(...,
    wake=False) queued their items): a frame for 50 viewers is one hand-over to the loop,
    not 50, each of which would write to the loop's self-pipe."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Event]] = {}
    for viewer in viewers:
        if viewer._loop is not None and viewer._event is not None:
            events = by_loop.setdefault(viewer._loop, [])
            if viewer._event not in events:  # a wall's tiles share one
                events.append(viewer._event)
    for loop, events in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop has gone away
            loop.call_soon_threadsafe(_set_all, events)


class Viewer:
    """Bounded per-viewer queue: never waited for. When it holds more than max_lag_s of
    video (or max_queue fragments) its fragments are thrown away and it resumes at the next
    keyframe; after max_skips skips in a row without reading it is dropped.

    The channel thread calls offer(); a client reads with chunks() (asyncio) or get()
    (threads). The first item is always the init segment; fragments follow from a keyframe.
    """

    def __init__(self, camera_id: str, max_queue: int = 300,
                 loop: asyncio.AbstractEventLoop | None = None, max_lag_s: float = 3.0,
                 max_skips: int = 3, profile: str | None = None,
                 event: asyncio.Event | None = None) -> None:
        self.id = next(_ids)
        self.camera_id = camera_id
        self.profile = profile
        self.max_queue = max_queue
        self.max_lag_s = max_lag_s
        self.max_skips = max_skips
        self.skipping = False
        self.skips = 0  # skips since the client last took an item
        self.skipped = 0  # fragments thrown away, in all
        self.joined = time.monotonic()
        self.joined_wall = time.time()  # fragments received before this are the backlog
        self.closed = False
        self.reason: str | None = None
        self.delivered = 0
        self.channel: object | None = None  # the Channel feeding it (set by the hub)
        self._items: deque[Item] = deque()
        self._cond = threading.Condition()
        self._loop = loop
        # one reader may drain many viewers (a wall's socket): they share its event
        self._event = event if event is not None else (
            asyncio.Event() if loop is not None else None)

    def prime(self, init: bytes, gop: list[Fragment]) -> None:
        """Queue the init segment and the fragments since the latest keyframe (at attach)."""
        with self._cond:
            if not self.closed:
                self._items.append(init)
                self._items.extend(gop)
                self._cond.notify_all()
        self._wake()

    def offer(self, item: Item, wake: bool = True) -> bool:
        """Queue an item; False if the viewer is closed or was just dropped as too slow.
        wake=False: the caller wakes the asyncio reader (wake_all, for many viewers at once)."""
        with self._cond:
            if self.closed:
                return False
            if isinstance(item, Fragment):
                if self.skipping and not item.keyframe:
                    self.skipped += 1
                    return True
                self.skipping = False
                if self._behind(item):
                    self._skip(item)
                    if self.closed:
                        return False
                    if self.skipping:
                        return True
            self._items.append(item)
            self._cond.notify_all()
        if wake:
            self._wake()
        return True

    def _behind(self, item: Fragment) -> bool:
        """Is the queue over its bounds with this fragment added?"""
        if len(self._items) >= self.max_queue:
            return True
        oldest = next((i for i in self._items if isinstance(i, Fragment)), None)
        return oldest is not None and item.received - oldest.received > self.max_lag_s

    def _skip(self, item: Fragment) -> None:
        """Throw the queued fragments away; resume at the next keyframe (this one, if it is
        one). Closed after too many skips without the client reading."""
        self.skips += 1
        if self.skips > self.max_skips:
            self._close_locked("viewer too slow; dropped")
            return
        kept = [i for i in self._items if not isinstance(i, Fragment)]
        self.skipped += len(self._items) - len(kept)
        self._items = deque(kept)
        self.skipping = not item.keyframe
        if self.skipping:
            self.skipped += 1

    def close(self, reason: str | None = None) -> None:
        """No more items; the client sees the end after draining what is queued."""
        with self._cond:
            self._close_locked(reason)
        self._wake()

    def _close_locked(self, reason: str | None) -> None:
        if not self.closed:
            self.closed, self.reason = True, reason
        self._cond.notify_all()

    def _wake(self) -> None:
        """Wake an asyncio reader (a no-op once its loop has gone away)."""
        if self._loop is not None and self._event is not None:
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._event.set)

    def take(self) -> tuple[Item | None, bool]:
        """(next item or None, whether the stream has ended), without waiting: for a reader
        that drains many viewers in turn and waits on their shared event."""
        return self._pop()

    def _pop(self) -> tuple[Item | None, bool]:
        """(next item or None, whether the stream has ended)."""
        with self._cond:
            if self._items:
                self.skips = 0
                return self._items.popleft(), False
            return None, self.closed

    def get(self, timeout: float) -> Item | None:
        """The next item, waiting up to timeout; None at the end or on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._items and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left):
                    return None
        return self._pop()[0]

    async def next(self, timeout: float | None = None) -> Item | None:
        """The next item (asyncio); None at the end; TimeoutError after timeout."""
        assert self._event is not None, "viewer was made without an event loop"
        async with asyncio.timeout(timeout):
            while True:
                self._event.clear()
                item, ended = self._pop()
                if item is not None or ended:
                    return item
                await self._event.wait()

    async def chunks(self, first: Item | None = None) -> AsyncIterator[bytes]:
        """The viewer's bytes: the init segment, then fragments on a timeline from 0."""
        origin: int | None = None
        item = first if first is not None else await self.next()
        while item is not None:
            if isinstance(item, Fragment):
                origin = item.decode_time if origin is None else origin
                yield item.rebased(origin)
            else:
                yield item
            self.delivered += 1
            item = await self.next()
