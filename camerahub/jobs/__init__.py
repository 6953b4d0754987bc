"""Jobs that run beside the API: discovery rounds, retention sweeps, audit anchors."""

from .anchoring import AuditAnchoring, StoreAnchors, latest_of
from .background import BackgroundJobs

__all__ = ["AuditAnchoring", "BackgroundJobs", "StoreAnchors", "latest_of"]
