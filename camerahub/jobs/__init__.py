"""Jobs that run beside the API: periodic discovery rounds and retention sweeps."""

from .background import BackgroundJobs

__all__ = ["BackgroundJobs"]
