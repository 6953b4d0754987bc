"""camerahub: video-surveillance management backend for office cameras."""

__version__ = "0.1.0"
