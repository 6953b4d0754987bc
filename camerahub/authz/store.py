"""Read the inventory that deploy apply wrote, and keep a current Authorizer for services."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from camerahub.config import ConfigError, parse_config
from camerahub.config.services import Access
from camerahub.db import models as m

from . import changes
from .authorizer import Authorizer
from .policy import AreaRow, Inventory, UserRow

log = logging.getLogger(__name__)


def policy_version(session: Session) -> int:
    """The id of the latest deployment; policy changes only when it does."""
    return session.scalar(select(func.max(m.Deployment.id))) or 0


def _deployed_access(session: Session, version: int, fallback: Access) -> Access:
    """Access settings of the latest applied config, so a deploy changes them without restart."""
    text = session.scalar(select(m.Deployment.config_text).where(m.Deployment.id == version))
    if not text:
        return fallback
    try:
        return parse_config(text, "deployments").access
    except ConfigError:
        log.warning("deployment %s config no longer parses; using the running config", version)
        return fallback


def load_inventory(session: Session, access: Access = Access()) -> Inventory:
    """A snapshot of areas, cameras and active users at the current policy version."""
    version = policy_version(session)
    acc = _deployed_access(session, version, access)
    areas = tuple(AreaRow(a.id, a.kind, a.parent_id, a.site_id)
                  for a in session.scalars(select(m.Area)))
    cams = tuple(tuple(r) for r in session.execute(
        select(m.Camera.id, m.Camera.room_id, m.Camera.site_id)))
    users = tuple(UserRow(u.id, u.role, u.scope, u.live)
                  for u in session.scalars(select(m.User).where(m.User.active.is_(True))))
    sites = tuple(session.scalars(select(m.Site.id)))
    return Inventory(version=version, areas=areas, cameras=cams, users=users, sites=sites,
                     manager_playback=acc.manager_playback, manager_live=acc.manager_live)


class PolicyStore:
    """The Authorizer of the latest deployment, rebuilt when deployments.id changes.

    The check is one indexed max() query, done at most every `check_interval` seconds.
    """

    def __init__(self, sessions: sessionmaker[Session], access: Access = Access(),
                 check_interval: float = 2.0):
        self._sessions = sessions
        self._access = access
        self._interval = check_interval
        self._current: Authorizer | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self.reloads = 0

    def current(self) -> Authorizer:
        """The authorizer for the newest policy version (rebuilding if it changed)."""
        now = time.monotonic()
        if self._current is not None and now - self._checked < self._interval:
            return self._current
        with self._lock:
            self._refresh(now)
        assert self._current is not None
        return self._current

    def _refresh(self, now: float) -> None:
        changed = False
        with self._sessions() as session:
            version = policy_version(session)
            if self._current is None or version != self._current.version:
                changed = self._current is not None
                self._current = Authorizer(load_inventory(session, self._access))
                self.reloads += 1
                log.info("access policy loaded for deployment %s", version)
        self._checked = now
        if changed:  # a new policy: every open session is decided again under it
            changes.notify()
