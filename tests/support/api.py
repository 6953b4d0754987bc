"""The real app over the example deployment, with stand-in footage routes, and a client that
signs in (the api folder's fixtures build on this)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from camerahub.api.access import requires
from camerahub.api.deps import FootageAccess
from camerahub.authz import accounts
from camerahub.authz.policy import FOOTAGE_ACTIONS
from camerahub.config import Config
from tests.support.deployment import PASSWORD, deploy_example, make_app, set_all_passwords

CAMERA_ACTIONS = FOOTAGE_ACTIONS + ("hold", "incident")
SYSTEM_ACTIONS = ("deploy", "health", "audit", "hold", "incident", "alerts")
TEST_PREFIX = "/api/v1/_test"


def _footage_endpoint(action: str) -> Callable:
    """A stand-in for the footage routes others will build, declared the same way."""

    @requires(action, camera="camera_id", audit=True)
    def endpoint(camera_id: str, access: FootageAccess) -> dict:
        return {"camera": access.camera_id, "action": access.action, "basis": access.basis,
                "incident": access.incident_id, "reason": access.reason,
                "start": access.footage_start.isoformat() if access.footage_start else None,
                "end": access.footage_end.isoformat() if access.footage_end else None}

    return endpoint


def _system_endpoint(action: str) -> Callable:
    @requires(action)
    def endpoint() -> dict:
        return {"ok": action}

    return endpoint


def undeclared() -> dict:
    """A route that forgot to declare its access rule: nobody may call it."""
    return {"leak": True}


def add_test_routes(app: FastAPI) -> None:
    """Mount the stand-in routes under /api/v1/_test, as a later router would be."""
    router = APIRouter(prefix=TEST_PREFIX)
    for action in CAMERA_ACTIONS:
        router.add_api_route(f"/cameras/{{camera_id}}/{action}", _footage_endpoint(action))
    for action in SYSTEM_ACTIONS:
        router.add_api_route(f"/system/{action}", _system_endpoint(action))
    router.add_api_route("/undeclared", undeclared)
    app.include_router(router)


@dataclass
class Api:
    """A client on the real app plus helpers to sign in and to read the database."""

    url: str
    cfg: Config
    app: FastAPI
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def sessions(self):
        return self.app.state.camerahub.sessions

    def login(self, user: str, password: str = PASSWORD):
        """POST /auth/token; returns the response."""
        return self.client.post("/api/v1/auth/token",
                                data={"username": user, "password": password})

    def token(self, user: str) -> str:
        """A bearer token for user (signed in through the API once per module)."""
        if user not in self.tokens:
            resp = self.login(user)
            assert resp.status_code == 200, resp.text
            self.tokens[user] = resp.json()["access_token"]
        return self.tokens[user]

    def auth(self, user: str) -> dict[str, str]:
        """Authorization header for user."""
        return {"Authorization": f"Bearer {self.token(user)}"}

    def key(self, scope: str) -> str:
        """An API key of scope, made with the same service the CLI uses."""
        if scope not in self.keys:
            with self.sessions.begin() as session:
                _, self.keys[scope] = accounts.create_api_key(
                    session, f"test-{scope.replace(':', '-')}", scope)
        return self.keys[scope]


def build_api(url: str, data_dir: Path | None = None) -> Api:
    """Deploy the example into url, set passwords, and start the app with test routes."""
    cfg = deploy_example(url)
    set_all_passwords(url, cfg)
    app = make_app(url, cfg, **({"data_dir": data_dir} if data_dir else {}))
    add_test_routes(app)
    return Api(url=url, cfg=cfg, app=app, client=TestClient(app))
