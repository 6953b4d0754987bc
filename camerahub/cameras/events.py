"""Events about what cameras answered: written so ops see a refused URI, not only a log line."""

from __future__ import annotations

import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from camerahub.db import models as m

from .access import RefusalHook

# A camera that keeps naming a foreign host is asked again on every reconnect; say it once
# an hour per camera, not on every attempt.
REPEAT_S = 3600.0


def refusal_events(sessions: sessionmaker[Session], repeat_s: float = REPEAT_S) -> RefusalHook:
    """A RefusalHook that adds a `camera.untrusted_uri` event (high), at most hourly."""
    last: dict[str, float] = {}
    lock = threading.Lock()

    def record(camera_id: str, reason: str) -> None:
        now = time.monotonic()
        with lock:
            if now - last.get(camera_id, -repeat_s) < repeat_s:
                return
            last[camera_id] = now
        with sessions.begin() as session:
            session.add(m.Event(kind="camera.untrusted_uri", severity="high",
                                camera_id=camera_id, message=f"{camera_id}: {reason}"[:1000],
                                data={"reason": reason[:500]}))

    return record
