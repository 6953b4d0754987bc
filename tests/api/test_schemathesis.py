"""Schemathesis over the whole API, in process, every check on: 0 server errors and 0
departures from the OpenAPI document, signed in with broad rights and signed out.

The real app over the example deployment, its camera addresses moved to 127.0.141.x where
nothing listens, so live and snapshot fail fast with 503 instead of reaching a camera.
Examples are bounded and derandomized: the run is the same every time (about half a minute
per run on one core).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.engine import Status, events, from_schema

from camerahub.db import models as m
from camerahub.db.types import utcnow
from tests.support.deployment import NAKANO, PASSWORD, deploy_text, make_app, set_all_passwords

MAX_EXAMPLES = 5
SUBNET = "127.0.141."  # this file's loopback subnet: no simulator, nothing listening
# Rules the schema cannot state and the document states in words, answered 400: a time past
# one day from now, an end not after a start, a reason a manager must give, no signing key.
POSITIVE_ALSO = ["400"]
# POST /incidents validates its window in the model (end after start, at most 7 days): 422.
WINDOW_RULES = {"include-path": "/api/v1/incidents", "include-method": "POST",
                "checks": {"positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "400", "401", "403", "404", "409",
                                          "422"]}}}


def _config() -> schemathesis.Config:
    """All phases and checks, bounded and repeatable, leaving no files behind."""
    return schemathesis.Config.from_dict({
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True,
                       "database": "none"},
        "cache": {"enabled": False},
        "suppress-health-check": ["all"],
        "checks": {"enabled": True, "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", *POSITIVE_ALSO]}},
        "operations": [WINDOW_RULES],
    })


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The deployed example with passwords set, cameras on a silent subnet."""
    scratch = tmp_path_factory.mktemp("schemathesis")
    set_hypothesis_home_dir(scratch / "hypothesis")  # not .hypothesis/ in the work tree
    url = f"sqlite:///{scratch / 'db.sqlite'}"
    text = NAKANO.read_text(encoding="utf-8").replace("address: 127.0.1.", f"address: {SUBNET}")
    cfg = deploy_text(url, text, str(NAKANO))
    set_all_passwords(url, cfg)
    built = make_app(url, cfg)
    # /readyz wants a live recorder: a heartbeat that stays fresh for the run (no recorder
    # runs here; its 503 without one is tested in tests/ops)
    with built.state.camerahub.sessions.begin() as s:
        s.add(m.RecorderHeartbeat(id="schemathesis", at=utcnow() + timedelta(days=1),
                                  cameras=0, details={}))
    yield built
    built.state.camerahub.engine.dispose()
    set_hypothesis_home_dir(None)


def _sign_in_each_case(schema, app, user: str) -> None:
    """A valid token for every case: signed in once, and again after each case that calls
    POST /auth/revoke (which ends the tokens issued before it). Signing in per case would
    spend most of the run hashing the password."""
    client = TestClient(app)
    held: list[str] = []

    @schema.auth(refresh_interval=None)
    class FreshToken:
        def get(self, case, ctx):
            if not held:
                resp = client.post("/api/v1/auth/token", data={"username": user,
                                                               "password": PASSWORD})
                held.append(resp.json()["access_token"])
            return held[0]

        def set(self, case, token, ctx):
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
            if case.path.endswith("/auth/revoke"):
                held.clear()


def _run(schema) -> tuple[int, set[str], Counter, list[str]]:
    """Cases run, operations reached, failed checks by (operation, check), engine errors."""
    cases, reached, failed, errors = 0, set(), Counter(), []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            cases += len(event.recorder.cases)
            reached.add(event.recorder.label)
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.status == Status.FAILURE:
                        title = check.failure_info.failure.title if check.failure_info else ""
                        failed[(event.recorder.label, check.name, title)] += 1
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(repr(getattr(event, "value", None) or event.exception)[:300])
    return cases, reached, failed, errors


@pytest.mark.parametrize("user", ["kiki-sato", None], ids=["crisis-management", "signed-out"])
def test_the_whole_api_keeps_to_its_document(app, user, capsys):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=_config())
    if user:
        _sign_in_each_case(schema, app, user)
    operations = {f"{method.upper()} {path}" for path, ops in schema.raw_schema["paths"].items()
                  for method in ops}
    cases, reached, failed, errors = _run(schema)
    with capsys.disabled():
        print(f"\nschemathesis ({user or 'signed out'}): {cases} cases over "
              f"{len(operations)} operations, {sum(failed.values())} failed checks, "
              f"{len(errors)} errors")
    assert not errors, errors
    assert not failed, "\n".join(f"{n} x {key}" for key, n in failed.most_common())
    assert operations <= reached, operations - reached
    assert cases > 20 * len(operations)
