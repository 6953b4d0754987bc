"""GET /register/viewing (auditors): the month's viewing register as JSON, CSV or PDF.

The same register as `camerahub report viewing`, built from the audit trail after verifying
it against the newest anchor; a broken chain is stated in every format.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from camerahub.audit import Anchor, newest
from camerahub.audit import register as reg
from camerahub.composition import anchor_sinks
from camerahub.errors import ErrorKind as K
from camerahub.errors import KindedError

from .. import openapi as doc
from ..access import requires
from ..auditing import flush_aggregates
from ..deps import SessionDep, StateDep

log = logging.getLogger(__name__)
router = APIRouter(prefix="/register", tags=["audit"])
Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (Asia/Tokyo)")]
Site = Annotated[str | None, Query(max_length=63, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Format = Annotated[Literal["json", "csv", "pdf"], Query()]
Lang = Annotated[Literal["ja", "en"], Query()]
OK = {200: {"description": "The register (JSON), or with ?format=csv|pdf the file",
            "content": {"text/csv": {"schema": doc.BINARY},
                        "application/pdf": {"schema": doc.BINARY}}}}


def _anchor(state) -> Anchor | None:
    """The newest anchor of the configured sinks; an unreadable sink is skipped (logged)."""
    found = []
    for sink in anchor_sinks(state.config, state.services.runtime, state.services.store):
        try:
            found.append(sink.latest())
        except Exception as exc:  # noqa: BLE001 - a sink we cannot read is no anchor
            log.warning("register: anchor %s unreadable: %s", sink.name, exc)
    return newest(found)


@router.get("/viewing", responses=doc.responses(K.INVALID, K.UNAUTHENTICATED, K.FORBIDDEN,
                                                K.UNAVAILABLE, ok=OK))
@requires("audit", audit=True)
def viewing(session: SessionDep, state: StateDep, month: Month, site: Site = None,
            format: Format = "json",  # noqa: A002 - the public query parameter name
            lang: Lang = "ja"):
    """Every footage access of the month per site, the disposal log and the holds."""
    flush_aggregates(state)
    register = reg.build(session, month, state.timezone, site, _anchor(state))
    name = f"viewing-register-{month}{'-' + site if site else ''}"
    if format == "csv":
        return Response(reg.csv_text(register).encode("utf-8"),
                        media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    if format == "pdf":
        from camerahub.audit.register_pdf import FontMissing, render

        try:
            data = render(register, lang)
        except FontMissing as exc:
            raise KindedError(K.UNAVAILABLE, str(exc)) from None
        return Response(data, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})
    return reg.as_dict(register)
