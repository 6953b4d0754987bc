"""Flood control for anonymous entries: aggregated per client and minute, never dropped.

A client without valid credentials can send requests as fast as it likes; writing one
hash-chained entry for each would let it fill the trail and hold the database's write lock.
So per key (client, action, outcome) the first request of a window is written at once, in
full, and the rest of that window are counted; when the window has ended, one entry records
how many more there were, their first and last time and the cameras they named. Nothing is
dropped: counts are written at the next audited request after the window, when the trail is
read, and when the app stops.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

WINDOW = timedelta(minutes=1)
MAX_KEYS = 10_000  # past this many open windows, clients share one key per action and outcome
MAX_CAMERAS = 20  # cameras named in one aggregate entry (the rest are only counted)


@dataclass
class _Window:
    """One key's open window: the entry to repeat and what came after it."""

    start: datetime
    fields: dict[str, Any]
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    cameras: set[str] = field(default_factory=set)
    more_cameras: int = 0

    def add(self, now: datetime, camera: str | None) -> None:
        """Count one more request of this window."""
        self.count += 1
        self.first = self.first or now
        self.last = now
        if camera and camera not in self.cameras:
            if len(self.cameras) < MAX_CAMERAS:
                self.cameras.add(camera)
            else:
                self.more_cameras += 1


class Throttle:
    """Decides which anonymous entries to write now and keeps the counts of the rest."""

    def __init__(self, window: timedelta = WINDOW, max_keys: int = MAX_KEYS):
        self.window = window
        self.max_keys = max_keys
        self._open: dict[tuple, _Window] = {}
        self._lock = threading.Lock()

    def offer(self, fields: dict[str, Any], now: datetime) -> bool:
        """True: write this entry now (the first of its window); False: it was counted."""
        key = (fields.get("client"), fields.get("action"), fields.get("decision"),
               fields.get("detail", {}).get("status"))
        with self._lock:
            if key not in self._open and len(self._open) >= self.max_keys:
                key = ("*", *key[1:])
            window = self._open.get(key)
            if window is None or now - window.start >= self.window:
                if window is not None and window.count:
                    return self._start_after(key, window, fields, now)
                self._open[key] = _Window(now, dict(fields))
                return True
            window.add(now, fields.get("camera_id"))
            return False

    def _start_after(self, key: tuple, old: _Window, fields: dict[str, Any],
                     now: datetime) -> bool:
        """A key whose previous window still holds a count: keep that for due()."""
        self._open[(*key, old.start)] = old
        self._open[key] = _Window(now, dict(fields))
        return True

    def due(self, now: datetime, everything: bool = False) -> list[dict[str, Any]]:
        """The aggregate entries of windows that ended (of every window with everything)."""
        out = []
        with self._lock:
            for key, window in list(self._open.items()):
                if everything or now - window.start >= self.window:
                    del self._open[key]
                    if window.count:
                        out.append(_aggregate(window))
        return out


def _aggregate(window: _Window) -> dict[str, Any]:
    """The entry that stands for the counted requests of one window."""
    fields = dict(window.fields)
    cameras = sorted(window.cameras)
    fields["camera_id"] = cameras[0] if len(cameras) == 1 and not window.more_cameras else None
    fields["footage_start"] = fields["footage_end"] = fields["reason"] = None
    fields["detail"] = {**fields.get("detail", {}), "aggregate": True, "count": window.count,
                        "first": window.first.isoformat() if window.first else None,
                        "last": window.last.isoformat() if window.last else None,
                        "cameras": cameras, "more_cameras": window.more_cameras}
    return fields
