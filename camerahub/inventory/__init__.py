"""Camera inventory as read back: listings for operators and for API callers."""

from .cameras import camera_detail, inventory_rows, visible_cameras

__all__ = ["camera_detail", "inventory_rows", "visible_cameras"]
