"""Discovery service: find cameras, reconcile them with the inventory, keep their state."""

from .model import (
    CLOCK_SKEW_LIMIT_S,
    SEVERITY,
    STATUSES,
    DeviceResult,
    Finding,
    KnownCamera,
    Sighting,
)
from .plan import ScanPlan, SitePlan, plan_ad_hoc, plan_from_config
from .reconcile import reconcile
from .service import DiscoveryRun, DiscoveryService

__all__ = [
    "CLOCK_SKEW_LIMIT_S", "SEVERITY", "STATUSES", "DeviceResult", "DiscoveryRun",
    "DiscoveryService", "Finding", "KnownCamera", "ScanPlan", "Sighting", "SitePlan",
    "plan_ad_hoc", "plan_from_config", "reconcile",
]
