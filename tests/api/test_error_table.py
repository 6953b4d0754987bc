"""The one table from domain error kinds to HTTP: every kind has a row, bodies stay {"detail"}."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from camerahub.api import errors
from camerahub.authz.errors import (
    InvalidRequest,
    NotAuthenticated,
    NotVisible,
    PermissionDenied,
    ReasonRequired,
)
from camerahub.errors import CamerahubError, ErrorKind
from camerahub.incidents import IncidentError
from camerahub.live import LiveUnavailable
from camerahub.recordings import FootageError


def _client(exc: Exception) -> TestClient:
    app = FastAPI()
    errors.install(app)

    @app.get("/boom")
    def boom():
        raise exc

    return TestClient(app, raise_server_exceptions=False)


def test_every_kind_has_a_response():
    assert set(errors.RESPONSES) == set(ErrorKind)


@pytest.mark.parametrize(("exc", "status", "headers"), [
    (NotAuthenticated("not authenticated"), 401, {"www-authenticate": "Bearer"}),
    (PermissionDenied("no"), 403, {}),
    (NotVisible("camera not found"), 404, {}),
    (ReasonRequired("say why"), 400, {}),
    (InvalidRequest("bad range"), 400, {}),
    (FootageError("invalid", "end must be after start"), 400, {}),
    (FootageError("not_found", "no footage in that range"), 404, {}),
    (FootageError("corrupt", "segment k does not match"), 502, {}),
    (FootageError("unavailable", "segment k: store down"), 503, {"cache-control": "no-store"}),
    (IncidentError("conflict", "cannot go from closed to reviewing"), 409, {}),
    (IncidentError("not_found", "no incident 9"), 404, {}),
    (LiveUnavailable("camera c: the camera is unreachable"), 503,
     {"cache-control": "no-store"}),
])
def test_domain_errors_map_to_one_status_and_keep_their_message(exc, status, headers):
    resp = _client(exc).get("/boom")
    assert resp.status_code == status
    assert resp.json() == {"detail": str(exc)}
    for name, value in headers.items():
        assert resp.headers[name] == value


def test_an_unclassified_domain_error_is_a_500_without_its_message():
    resp = _client(CamerahubError("db password is hunter2")).get("/boom")
    assert resp.status_code == 500 and resp.json() == {"detail": "internal server error"}


def test_a_kind_outside_the_table_is_refused_when_raised():
    with pytest.raises(ValueError):
        FootageError("teapot", "no such kind")
