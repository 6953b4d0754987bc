"""The one way times are written on the wire: ISO 8601, UTC, with Z.

Precision follows the value: whole seconds stay short, and milliseconds (segment bounds)
or microseconds appear only when the value has them, so a time read back from a URL is
exactly the time that was written. This module imports nothing of ours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

Precision = Literal["auto", "seconds", "milliseconds", "microseconds"]


def wire_time(moment: datetime | None, precision: Precision = "auto") -> str | None:
    """moment as e.g. 2026-11-20T01:00:00Z or ...T01:00:00.480Z; None stays None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place on the wire; give it a zone")
    utc = moment.astimezone(UTC)
    if precision == "auto":
        precision = _precision(utc.microsecond)
    return utc.isoformat(timespec=precision).removesuffix("+00:00") + "Z"


def _precision(microsecond: int) -> Precision:
    """The shortest precision that loses nothing of the value."""
    if microsecond == 0:
        return "seconds"
    return "milliseconds" if microsecond % 1000 == 0 else "microseconds"
