"""GET /audit (auditors): filtered pages, CSV export and the per-division summary."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from camerahub.audit import query
from camerahub.errors import ErrorKind as K

from .. import openapi as doc
from ..access import requires
from ..auditing import flush_aggregates
from ..deps import SessionDep, StateDep
from ..params import End, Offset, RequiredEnd, RequiredStart, Start, Text

router = APIRouter(prefix="/audit", tags=["audit"])
csv_router = APIRouter(tags=["audit"])
MAX_PAGE = 1000
ERRORS = (K.INVALID, K.UNAUTHENTICATED, K.FORBIDDEN)
Decision = Annotated[Literal["allow", "deny", "fail", "info"] | None, Query()]
Format = Annotated[Literal["json", "csv"] | None, Query()]


def _filter(user, camera, action, decision, start, end, division=None) -> query.AuditFilter:
    return query.AuditFilter(user=user, camera=camera, action=action, decision=decision,
                             start=start, end=end, division=division)


@router.get("", responses=doc.responses(*ERRORS, ok=doc.AUDIT_PAGE_OR_CSV))
@requires("audit", audit=True)
def list_entries(session: SessionDep, state: StateDep, start: Start, end: End,
                 user: Text = None, camera: Text = None, action: Text = None,
                 decision: Decision = None, division: Text = None,
                 format: Format = None,  # noqa: A002 - the public query parameter name
                 limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
                 offset: Offset = 0):
    """Entries oldest first, each with the names of its people, camera and room;
    ?format=csv returns the CSV export instead. `action` without a dot matches its family
    (auth: auth.login); `division` a division or department (entries on its cameras and
    incidents)."""
    flush_aggregates(state)  # anonymous counts of ended minutes are part of what is read
    flt = _filter(user, camera, action, decision, start, end, division)
    if format == "csv":
        return _csv(state, flt)
    rows, total = query.search(session, flt, limit, offset)
    nxt = offset + len(rows) if offset + len(rows) < total else None
    n = query.names(session, {r.incident_id for r in rows if r.incident_id})
    return {"total": total, "offset": offset, "limit": limit, "next_offset": nxt,
            "items": [query.with_names(query.entry_dict(r, state.timezone), r, n)
                      for r in rows]}


@router.get("/summary", responses=doc.responses(*ERRORS))
@requires("audit", audit=True)
def summary(session: SessionDep, state: StateDep, start: RequiredStart,
            end: RequiredEnd) -> dict:
    """Per division: who looked at which cameras in [start, end), allowed and denied."""
    flush_aggregates(state)
    return query.summary(session, start, end, state.timezone)


@csv_router.get("/audit.csv", response_class=Response,
                responses=doc.responses(*ERRORS, ok=doc.CSV))
@requires("audit", audit=True)
def export_csv(state: StateDep, start: Start, end: End, user: Text = None,
               camera: Text = None, action: Text = None,
               decision: Decision = None, division: Text = None) -> StreamingResponse:
    """The filtered entries as CSV (UTF-8 with BOM; UTC and local times)."""
    flush_aggregates(state)
    return _csv(state, _filter(user, camera, action, decision, start, end, division))


def _csv(state, flt: query.AuditFilter) -> StreamingResponse:
    def chunks():
        with state.sessions() as session:  # its own session: the stream outlives the request's
            yield from query.csv_chunks(session, flt, state.timezone)

    return StreamingResponse(chunks(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": 'attachment; filename="audit.csv"'})
