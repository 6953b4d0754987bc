"""The FastAPI application factory; other teams add routers under routes/."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI

from camerahub import __version__, redact
from camerahub.authz.tokens import check_secret
from camerahub.composition import Services

from . import auditing, errors, openapi
from .deps import authorize
from .metrics import CountRequests
from .routes import ROUTERS, health
from .settings import Settings
from .state import AppState
from .webui import mount_ui

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Nothing to start eagerly; on shutdown stop the live hub (open live responses end) and
    write the counts of anonymous requests still being aggregated."""
    yield
    await asyncio.to_thread(app.state.camerahub.live.close)
    try:
        await asyncio.to_thread(auditing.flush_aggregates, app.state.camerahub, True)
    except Exception:  # noqa: BLE001 - shutting down: say so, never hide it
        log.exception("counts of anonymous requests could not be written to the audit trail")


def create_app(settings: Settings, services: Services) -> FastAPI:
    """The camerahub API over services built by camerahub.composition (never by the app).

    Every route is behind deps.authorize unless it opts out. The caller owns the services
    and closes them after the server stops.
    """
    check_secret(settings.secret_key, settings.demo)
    if settings.config is not services.config:
        raise ValueError("settings and services must come from the same Config")
    app = FastAPI(title="camerahub", version=__version__, openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None, dependencies=[Depends(authorize)],
                  lifespan=_lifespan)
    app.state.camerahub = AppState(settings=settings, services=services)
    redact.install()  # uvicorn's access log carries ?access_token= media tokens
    errors.install(app)
    app.add_middleware(auditing.AuditMiddleware)  # innermost: sees each route's own status
    app.add_middleware(CountRequests)
    app.add_middleware(errors.BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    api = APIRouter(prefix=API_PREFIX)
    for router in ROUTERS:
        api.include_router(router)
    app.include_router(api)
    app.include_router(health.root)
    mount_ui(app)
    openapi.install(app)
    return app
