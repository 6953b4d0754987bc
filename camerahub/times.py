"""The one way times are written on the wire (ISO 8601, UTC, with Z), and the one range of
times a request may name (EARLIEST to one day from now).

Precision follows the value: whole seconds stay short, and milliseconds (segment bounds)
or microseconds appear only when the value has them, so a time read back from a URL is
exactly the time that was written. This module imports nothing of ours.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


# --- the range of times anyone may ask about --------------------------------------------------
#
# No footage, audit entry or incident predates the system, and nothing is recorded ahead of
# the clock; times outside this window are typing mistakes or probes. Bounding them at the edge
# also keeps every later step (margins around a window, conversion to local time) far from
# datetime's year 1..9999 limits, which would otherwise overflow.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=1)


def latest(now: datetime | None = None) -> datetime:
    """The latest time a request may name: one day after now (clocks drift, zones differ)."""
    return (now or datetime.now(UTC)) + AHEAD


def out_of_range(moment: datetime, now: datetime | None = None) -> str | None:
    """Why an aware moment is outside [EARLIEST, latest(now)], or None when it is inside."""
    try:
        inside = EARLIEST <= moment <= latest(now)
    except OverflowError:  # an offset that pushes year 1 or 9999 past datetime's range
        inside = False
    if inside:
        return None
    return (f"must be between {wire_time(EARLIEST)} and one day from now "
            f"({wire_time(latest(now), 'seconds')})")
