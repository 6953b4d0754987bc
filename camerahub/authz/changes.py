"""Access changes made in this process, told at once to whoever holds open sessions.

A live session is decided on connect and must be decided again when its right may have
ended. Grants created or revoked, sessions revoked and a newly loaded policy in this
process are announced here the moment they are committed, so the live sessions re-decide
at once instead of at their next periodic check (which stays, for changes made by another
process: the CLI, another node, and for token expiry).

A listener gets the users concerned, or None when anyone's access may have changed; it is
called in the committing thread and must only hand the news on (never block, never raise).

fingerprint() is the cheap way to notice changes made by another process: one query whose
answer moves whenever a grant is created, revoked or deleted, a user's tokens are revoked or
the user deactivated, or a new deployment (policy) is applied. What it cannot see is time:
an expiring token or grant, which the session watches itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable

from sqlalchemy import case, event, func, select
from sqlalchemy.orm import Session

from camerahub.db import models as m

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


def fingerprint(session: Session) -> tuple:
    """A value that changes with any stored change to who may see what (see the module)."""
    grants = select(func.count(), func.max(m.Grant.id), func.count(m.Grant.revoked_at),
                    func.max(m.Grant.revoked_at))
    users = select(func.count(), func.sum(m.User.token_version),
                   func.sum(case((m.User.active.is_(True), 1), else_=0)))
    version = select(func.max(m.Deployment.id))
    return (*session.execute(grants).one(), *session.execute(users).one(),
            session.scalar(version))
