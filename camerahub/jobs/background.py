"""Jobs that run beside the API: discovery (camera state), retention, audit anchoring."""

from __future__ import annotations

import logging
import threading
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from camerahub.config import Config
from camerahub.discovery import DiscoveryService
from camerahub.retention import RetentionSweeper
from camerahub.storage import SegmentStore

from .anchoring import AuditAnchoring

log = logging.getLogger(__name__)


class BackgroundJobs:
    """Starts and stops the periodic jobs of one deployment."""

    def __init__(self, cfg: Config, sessions: sessionmaker[Session], store: SegmentStore,
                 anchoring: AuditAnchoring | None = None, ca_file: str | None = None):
        self.discovery = DiscoveryService(cfg, sessions, ca_file=ca_file)
        self.anchoring = anchoring
        self.sweeper = RetentionSweeper(sessions, store, tz=ZoneInfo(cfg.system.timezone))
        self.interval = cfg.retention.sweep_interval_s
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._sweep_loop, name="retention", daemon=True)

    def start(self) -> None:
        """Discovery rounds per site interval; a retention sweep every sweep_interval_s; an
        audit anchor every anchor_interval_s."""
        self.discovery.start()
        self.thread.start()
        if self.anchoring is not None:
            self.anchoring.start()

    def stop(self) -> None:
        """Stop them, wait for them, and anchor the audit chain's head one last time."""
        self.stop_event.set()
        self.discovery.close()
        self.thread.join(30)
        if self.anchoring is not None:
            self.anchoring.stop()

    def _sweep_loop(self) -> None:
        while not self.stop_event.wait(self.interval):
            try:
                report = self.sweeper.sweep()
                log.info("retention: %d deleted, %d locked", report.deleted, report.locked)
            except Exception:  # noqa: BLE001 - a failed sweep is retried next interval
                log.exception("retention sweep failed")
