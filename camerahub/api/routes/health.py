"""GET /healthz (no authentication) and GET /metrics (needs the health permission)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from camerahub.errors import ErrorKind as K

from .. import openapi as doc
from ..access import public, requires
from ..deps import StateDep

root = APIRouter(tags=["health"])


@root.get("/healthz", responses={503: {"description": "The database is unreachable",
                                       "content": {"application/json": {}}}})
@public
def healthz(state: StateDep) -> JSONResponse:
    """Liveness and database reachability, for load balancers; reveals nothing else."""
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@root.get("/metrics", response_class=Response,
          responses=doc.responses(K.UNAUTHENTICATED, K.FORBIDDEN, ok=doc.METRICS))
@requires("health")
def metrics(state: StateDep) -> PlainTextResponse:
    """Prometheus text; scrape it with an API key of scope `health`."""
    authz = state.policy.current()
    body = state.metrics.render(authz.version, state.policy.reloads)
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")
