"""Jobs that run beside the API: discovery rounds, retention sweeps, audit anchors, alarms."""

from .alarms import Alarms
from .anchoring import AuditAnchoring, StoreAnchors, latest_of
from .background import BackgroundJobs

__all__ = ["Alarms", "AuditAnchoring", "BackgroundJobs", "StoreAnchors", "latest_of"]
