"""What the running app holds: its settings, the services built for it, its metrics."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from camerahub.audit.throttle import Throttle
from camerahub.authz.passwords import Passwords
from camerahub.authz.store import PolicyStore
from camerahub.composition import Services
from camerahub.config import Config
from camerahub.incidents import IncidentService
from camerahub.live import LiveHub
from camerahub.recordings import FootageReader
from camerahub.signin import token_ttl

from .metrics import Metrics
from .settings import Settings


@dataclass
class AppState:
    """One app instance's view of the process (app.state.camerahub); it builds nothing."""

    settings: Settings
    services: Services
    metrics: Metrics = field(default_factory=Metrics)
    throttle: Throttle = field(default_factory=Throttle)  # anonymous audit entries

    @property
    def config(self) -> Config:
        """The deployment's configuration."""
        return self.services.config

    @property
    def engine(self) -> Engine:
        """The database engine."""
        return self.services.engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        """Database sessions."""
        return self.services.sessions

    @property
    def policy(self) -> PolicyStore:
        """The current authorization policy."""
        return self.services.policy

    @property
    def passwords(self) -> Passwords:
        """Password hashing."""
        return self.services.passwords

    @property
    def live(self) -> LiveHub:
        """The live hub."""
        return self.services.live

    @property
    def footage(self) -> FootageReader:
        """Recorded footage."""
        return self.services.footage

    @property
    def incidents(self) -> IncidentService:
        """Incidents, holds and their notifications."""
        return self.services.incidents

    @property
    def token_ttl(self) -> timedelta:
        """Lifetime of issued bearer tokens."""
        return token_ttl(self.config.auth)

    @property
    def timezone(self) -> ZoneInfo:
        """The installation's display time zone (Asia/Tokyo for Nakano)."""
        return ZoneInfo(self.config.system.timezone)

    @property
    def reason_min(self) -> int:
        """Minimum length of a stated reason for standing manager access."""
        return self.config.access.reason_min_length
