"""The FastAPI application factory; other teams add routers under routes/."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request, Response

from camerahub import __version__
from camerahub.authz.passwords import Passwords
from camerahub.authz.store import PolicyStore
from camerahub.authz.tokens import check_secret
from camerahub.db.engine import open_database

from . import errors
from .deps import authorize
from .routes import ROUTERS, health
from .routes.live import close_live_hub
from .settings import Settings
from .state import AppState
from .webui import mount_ui

log = logging.getLogger(__name__)
API_PREFIX = "/api/v1"


def build_state(settings: Settings) -> AppState:
    """Open the database (migrating it) and set up policy and password hashing."""
    check_secret(settings.secret_key, settings.demo)
    engine, sessions = open_database(settings.database_url)
    policy = PolicyStore(sessions, settings.config.access, settings.policy_check_interval_s)
    return AppState(settings=settings, engine=engine, sessions=sessions, policy=policy,
                    passwords=Passwords(settings.password_hashing))


def _count_requests(app: FastAPI) -> None:
    @app.middleware("http")
    async def count(request: Request, call_next: Callable[[Request], Awaitable[Response]]):
        response = await call_next(request)
        request.app.state.camerahub.metrics.request(request.method, response.status_code)
        return response


class _RedactTokens(logging.Filter):
    """Keep media tokens (?access_token=) out of access logs."""

    PATTERN = re.compile(r"(access_token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(self.PATTERN.sub(r"\1[redacted]", a) if isinstance(a, str)
                                else a for a in record.args)
        return True


def _redact_access_log() -> None:
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactTokens) for f in logger.filters):
        logger.addFilter(_RedactTokens())


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Nothing to start eagerly; on shutdown stop the live hub's camera sessions."""
    yield
    await asyncio.to_thread(close_live_hub, app)


def create_app(settings: Settings) -> FastAPI:
    """The camerahub API: every route behind deps.authorize unless it opts out."""
    app = FastAPI(title="camerahub", version=__version__, openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None, dependencies=[Depends(authorize)],
                  lifespan=_lifespan)
    app.state.camerahub = build_state(settings)
    _redact_access_log()
    errors.install(app)
    _count_requests(app)
    app.add_middleware(errors.BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    api = APIRouter(prefix=API_PREFIX)
    for router in ROUTERS:
        api.include_router(router)
    app.include_router(api)
    app.include_router(health.root)
    mount_ui(app)
    return app
