"""What the running app holds: settings, database sessions, policy, hashing, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from camerahub.authz.passwords import Passwords
from camerahub.authz.store import PolicyStore

from .metrics import Metrics
from .settings import Settings


@dataclass
class AppState:
    """Shared services of one app instance (app.state.camerahub)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    policy: PolicyStore
    passwords: Passwords
    metrics: Metrics = field(default_factory=Metrics)

    @property
    def token_ttl(self) -> timedelta:
        """Lifetime of issued bearer tokens."""
        return timedelta(minutes=self.settings.config.auth.token_ttl_minutes)

    @property
    def timezone(self) -> ZoneInfo:
        """The installation's display time zone (Asia/Tokyo for Nakano)."""
        return ZoneInfo(self.settings.config.system.timezone)

    @property
    def reason_min(self) -> int:
        """Minimum length of a stated reason for standing manager access."""
        return self.settings.config.access.reason_min_length
