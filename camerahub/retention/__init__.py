"""Retention: delete stored footage past its camera's retention days, never held footage."""

from .sweeper import RetentionSweeper, SweepReport

__all__ = ["RetentionSweeper", "SweepReport"]
