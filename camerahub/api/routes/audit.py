"""GET /audit (auditors): filtered pages, CSV export and the per-division summary."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from camerahub.audit import query

from ..access import requires
from ..auditing import flush_aggregates
from ..deps import SessionDep, StateDep, parse_time

router = APIRouter(prefix="/audit", tags=["audit"])
csv_router = APIRouter(tags=["audit"])
MAX_PAGE = 1000


def _filter(user, camera, action, decision, start, end) -> query.AuditFilter:
    return query.AuditFilter(user=user, camera=camera, action=action, decision=decision,
                             start=parse_time("start", start), end=parse_time("end", end))


Str = Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$")]


@router.get("")
@requires("audit", audit=True)
def list_entries(session: SessionDep, state: StateDep, user: Str = None, camera: Str = None,
                 action: Str = None, decision: Str = None, start: Str = None, end: Str = None,
                 format: Str = None,  # noqa: A002 - the public query parameter name
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
                 offset: Annotated[int, Query(ge=0)] = 0):
    """Entries oldest first; ?format=csv returns the CSV export instead."""
    flush_aggregates(state)  # anonymous counts of ended minutes are part of what is read
    flt = _filter(user, camera, action, decision, start, end)
    if format == "csv":
        return _csv(state, flt)
    rows, total = query.search(session, flt, limit, offset)
    nxt = offset + len(rows) if offset + len(rows) < total else None
    return {"total": total, "offset": offset, "limit": limit, "next_offset": nxt,
            "items": [query.entry_dict(r, state.timezone) for r in rows]}


@router.get("/summary")
@requires("audit", audit=True)
def summary(session: SessionDep, state: StateDep, start: str, end: str) -> dict:
    """Per division: who looked at which cameras in [start, end), allowed and denied."""
    flush_aggregates(state)
    flt = _filter(None, None, None, None, start, end)
    return query.summary(session, flt.start, flt.end, state.timezone)


@csv_router.get("/audit.csv")
@requires("audit", audit=True)
def export_csv(state: StateDep, user: Str = None, camera: Str = None,
               action: Str = None, decision: Str = None, start: Str = None,
               end: Str = None) -> StreamingResponse:
    """The filtered entries as CSV (UTF-8 with BOM; UTC and local times)."""
    flush_aggregates(state)
    return _csv(state, _filter(user, camera, action, decision, start, end))


def _csv(state, flt: query.AuditFilter) -> StreamingResponse:
    def chunks():
        with state.sessions() as session:  # its own session: the stream outlives the request's
            yield from query.csv_chunks(session, flt, state.timezone)

    return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
