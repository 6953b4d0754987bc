"""Parameters bounded at the edge: one type per kind of value, shared by every route.

- Times: ISO 8601 with a zone, between times.EARLIEST and one day from now, else 400 naming
  the parameter. deps.authorize reads footage ranges with the same parse_time.
- Path ids: positive and within signed 64 bits, else 404 (no row can have such an id, and
  the database would overflow on it).
- Free text: bounded in length, without control characters (422 otherwise).

Nothing here decides access; it only turns raw request values into checked ones.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations of the dependencies
# made inside the factories below, and those name local variables.
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Query

from camerahub.authz.decision import MAX_REASON
from camerahub.errors import CamerahubError, ErrorKind
from camerahub.times import EARLIEST, out_of_range

MAX_ID = 2**63 - 1  # signed 64 bits: BIGINT on PostgreSQL, INTEGER on SQLite
TIME_MAX_LENGTH = 64  # far longer than any ISO 8601 time; longer values are not times
TEXT_MAX_LENGTH = 200
USERNAME_MAX_LENGTH = 128  # the audit trail keeps this much of a typed name
PASSWORD_MAX_LENGTH = 1024  # far above any policy; bounds the cost of hashing
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
REASON_HEADER = "X-Camerahub-Reason"
TIME_DOC = (f"ISO 8601 time with a zone (Z or +09:00), from {EARLIEST:%Y-%m-%d} to one day "
            "from now; 400 outside that range")


class ParameterError(CamerahubError):
    """A request parameter is malformed or outside the range we accept."""

    kind = ErrorKind.INVALID


class NoSuchId(CamerahubError):
    """A path id no row can have (not a positive signed 64-bit integer)."""

    kind = ErrorKind.NOT_FOUND


def parse_time(name: str, value: str | None, required: bool = False) -> datetime | None:
    """The UTC time a query value names, None if absent; ParameterError naming `name`."""
    if value is None or value == "":
        if required:
            raise ParameterError(f"{name} is required ({TIME_DOC})")
        return None
    if len(value) > TIME_MAX_LENGTH:
        raise ParameterError(f"{name} is not an ISO 8601 time (too long)")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ParameterError(f"{name} is not an ISO 8601 time "
                             "(e.g. 2026-11-20T01:00:00Z)") from None
    if parsed.tzinfo is None:
        raise ParameterError(f"{name} needs a time zone (e.g. Z or +09:00)")
    problem = out_of_range(parsed)
    if problem:
        raise ParameterError(f"{name} {problem}")
    return parsed.astimezone(UTC)


def _time_query(name: str, required: bool) -> Callable[..., datetime | None]:
    """A dependency that reads query parameter `name` with parse_time."""
    query = Query(alias=name, description=TIME_DOC, json_schema_extra={"format": "date-time"})
    if required:
        def required_time(value: Annotated[str, query]) -> datetime | None:
            return parse_time(name, value, required=True)

        return required_time

    def optional_time(value: Annotated[str | None, query] = None) -> datetime | None:
        return parse_time(name, value)

    return optional_time


def _path_id(name: str) -> Callable[..., int]:
    """A dependency that reads path parameter `name` as an id; NoSuchId outside 1..MAX_ID."""
    what = name.removesuffix("_id")

    def path_id(value: Annotated[int, Path(alias=name, description=f"The {what}'s id",
                                           json_schema_extra={"format": "int64"})]) -> int:
        if not 1 <= value <= MAX_ID:
            raise NoSuchId(f"no {what} has that id")
        return value

    return path_id


Start = Annotated[datetime | None, Depends(_time_query("start", required=False))]
End = Annotated[datetime | None, Depends(_time_query("end", required=False))]
RequiredStart = Annotated[datetime, Depends(_time_query("start", required=True))]
RequiredEnd = Annotated[datetime, Depends(_time_query("end", required=True))]
IncidentId = Annotated[int, Depends(_path_id("incident_id"))]
SegmentId = Annotated[int, Depends(_path_id("segment_id"))]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Entries to skip")]
Text = Annotated[str | None, Query(max_length=TEXT_MAX_LENGTH, pattern=PRINTABLE)]
Reason = Annotated[str | None, Query(
    max_length=MAX_REASON, description="Why the footage is needed (managers must say why)")]
ReasonHeader = Annotated[str | None, Header(
    alias=REASON_HEADER, description="The reason as a header instead, percent-encoded UTF-8")]


# --- the query deps.authorize reads on footage routes ---------------------------------------
#
# The global dependency decides and audits footage access before any route parameter is
# read, so these declarations add no check of their own (the same parse_time has already
# accepted the values); they put the parameters into the OpenAPI document.


def footage_range(start: RequiredStart, end: RequiredEnd, reason: Reason = None,
                  reason_header: ReasonHeader = None) -> None:
    """The footage range and stated reason of a recorded-footage route."""


def footage_now(reason: Reason = None, reason_header: ReasonHeader = None) -> None:
    """The stated reason of a live or snapshot route (the footage is "now")."""


def footage_at(at: Annotated[str, Query(alias="at", description=TIME_DOC,
                                        json_schema_extra={"format": "date-time"})],
               reason: Reason = None, reason_header: ReasonHeader = None) -> None:
    """The moment and stated reason of a still picture of recorded footage."""


FOOTAGE_RANGE = [Depends(footage_range)]
FOOTAGE_AT = [Depends(footage_at)]
FOOTAGE_NOW = [Depends(footage_now)]
