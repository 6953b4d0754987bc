"""Access changes made in this process, told at once to whoever holds open sessions.

A live session is decided on connect and must be decided again when its right may have
ended. Grants created or revoked, sessions revoked and a newly loaded policy in this
process are announced here the moment they are committed, so the live sessions re-decide
at once instead of at their next periodic check (which stays, for changes made by another
process: the CLI, another node, and for token expiry).

A listener gets the users concerned, or None when anyone's access may have changed; it is
called in the committing thread and must only hand the news on (never block, never raise).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
Listener = Callable[[frozenset[str] | None], None]
_listeners: set[Listener] = set()
_lock = threading.Lock()


def subscribe(listener: Listener) -> Callable[[], None]:
    """Call listener(users or None) on each access change; returns the unsubscribe."""
    with _lock:
        _listeners.add(listener)

    def unsubscribe() -> None:
        with _lock:
            _listeners.discard(listener)
    return unsubscribe


def notify(users: Iterable[str] | None = None) -> None:
    """The access of these users (None: of anyone) may have changed, now."""
    who = None if users is None else frozenset(users)
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(who)
        except Exception:  # noqa: BLE001 - a listener's failure must not undo the change
            log.exception("access change listener failed")


def on_commit(session: Session, users: Iterable[str] | None = None) -> None:
    """notify(users) once session's transaction commits (before that, nobody else sees
    the change: a re-decision now would find the old state)."""
    who = None if users is None else frozenset(users)
    event.listen(session, "after_commit", lambda _s: notify(who), once=True)
