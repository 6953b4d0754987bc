"""Camera inventory as read back: listings for operators and for API callers, and health."""

from .cameras import all_cameras, camera_detail, inventory_rows, visible_cameras
from .health import Thresholds, camera_states, recorders

__all__ = ["Thresholds", "all_cameras", "camera_detail", "camera_states", "inventory_rows",
           "recorders", "visible_cameras"]
