"""Live view: one upstream RTSP session per camera, remuxed to fMP4 for many viewers."""

from .channel import Channel, LiveOptions
from .errors import LiveUnavailable
from .hub import LiveHub
from .sources import LiveSources
from .viewer import Viewer

__all__ = ["Channel", "LiveHub", "LiveOptions", "LiveSources", "LiveUnavailable", "Viewer"]
