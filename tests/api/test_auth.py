"""Sign-in, lockout, token forgery and expiry, revocation, deactivation and API key scopes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import select, update

from camerahub.audit.throttle import Throttle
from camerahub.authz.tokens import issue_token
from camerahub.db import models as m
from tests.support.api import TEST_PREFIX
from tests.support.deployment import PASSWORD, SECRET, deploy_text, variant

KOSEKI = "hq-1f-koseki-01"
PLAYBACK = f"{TEST_PREFIX}/cameras/{KOSEKI}/playback"
RANGE = {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T01:10:00Z", "reason": "点検のため"}


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(user="kiki-sato", tv=1, **over) -> dict:
    now = int(datetime.now(UTC).timestamp())
    return {"sub": user, "iat": now, "exp": now + 600, "jti": "x", "tv": tv,
            "iss": "camerahub", **over}


def _get(api, token: str, url: str = PLAYBACK):
    return api.client.get(url, headers={"Authorization": f"Bearer {token}"}, params=RANGE)


def _last_audit(api) -> m.AuditEntry:
    with api.sessions() as s:
        return s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.seq.desc()).limit(1)).one()


def test_login_issues_a_short_lived_signed_token(api):
    resp = api.login("kiki-sato")
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    claims = jwt.decode(body["access_token"], SECRET, algorithms=["HS256"], issuer="camerahub")
    assert {"sub", "exp", "iat", "jti", "tv"} <= set(claims) and claims["sub"] == "kiki-sato"
    assert claims["exp"] - claims["iat"] == 15 * 60
    entry = _last_audit(api)
    assert (entry.action, entry.decision, entry.actor) == ("auth.login", "allow",
                                                           "user:kiki-sato")
    assert _get(api, body["access_token"]).status_code == 200


@pytest.mark.parametrize(("user", "password"), [
    ("kiki-sato", "wrong-password"), ("nobody", PASSWORD), ("nobody", "x"),
    ("", PASSWORD), ("KIKI-SATO", PASSWORD), ("kiki-sato\u0000", PASSWORD),
    ("x" * 5000, PASSWORD)])
def test_failed_logins_look_alike_and_are_audited(api, user, password):
    resp = api.login(user, password)
    assert resp.status_code in (401, 422)
    if resp.status_code == 401:
        assert resp.json() == {"detail": "invalid username or password"}
        entry = _last_audit(api)
        assert entry.action == "auth.login" and entry.decision == "deny"
        assert len(entry.actor) <= 128


def test_lockout_after_configured_failures(fresh_api):
    api = fresh_api
    failures = api.cfg.auth.lockout_failures
    for _ in range(failures):
        assert api.login("tokatsu-zeimu", "wrong-password").status_code == 401
    locked = api.login("tokatsu-zeimu")  # the right password, but locked now
    assert locked.status_code == 401 and locked.json() == {"detail": "invalid username or password"}
    assert _last_audit(api).detail["result"] == "account locked"
    with api.sessions.begin() as s:
        user = s.get(m.User, "tokatsu-zeimu")
        assert user.locked_until > datetime.now(UTC) + timedelta(minutes=14)
        user.locked_until = datetime.now(UTC) - timedelta(seconds=1)  # the lockout has passed
    assert api.login("tokatsu-zeimu").status_code == 200


@pytest.mark.parametrize("forge", ["wrong_key", "alg_none", "tampered", "expired", "no_exp",
                                   "no_tv", "garbage", "empty_sig", "hs512", "wrong_issuer"])
def test_forged_or_expired_tokens_are_refused(api, forge):
    good = api.token("tokatsu-koseki")
    header, payload, sig = good.split(".")
    tokens = {
        "wrong_key": lambda: jwt.encode(_claims(), "another-secret-" * 4, algorithm="HS256"),
        "alg_none": lambda: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.",
        "tampered": lambda: f"{header}.{_b64(_claims('kiki-sato'))}.{sig}",
        "expired": lambda: issue_token(SECRET, "kiki-sato", 1,
                                       datetime.now(UTC) - timedelta(hours=1),
                                       timedelta(minutes=15)),
        "no_exp": lambda: jwt.encode({k: v for k, v in _claims().items() if k != "exp"},
                                     SECRET, algorithm="HS256"),
        "no_tv": lambda: jwt.encode({k: v for k, v in _claims().items() if k != "tv"},
                                    SECRET, algorithm="HS256"),
        "garbage": lambda: "not-a-token",
        "empty_sig": lambda: f"{header}.{payload}.",
        "hs512": lambda: jwt.encode(_claims(), SECRET, algorithm="HS512"),
        "wrong_issuer": lambda: jwt.encode(_claims(iss="other"), SECRET, algorithm="HS256"),
    }
    api.app.state.camerahub.throttle = Throttle()  # a new minute: this one is written in full
    resp = _get(api, tokens[forge]())
    assert resp.status_code == 401 and resp.json() == {"detail": "not authenticated"}
    entry = _last_audit(api)
    # the footage attempt itself, anonymous, with its camera, range and why it was refused
    assert (entry.actor, entry.action, entry.decision) == ("anonymous", "playback", "deny")
    assert entry.camera_id == KOSEKI and entry.footage_start is not None
    assert entry.detail["basis"] == "credentials-rejected" and entry.detail["status"] == 401


def test_malformed_authorization_headers(api):
    for value in ("", "Bearer", "Bearer ", "Basic a2lraTp4", "bearer  ", "Token abc"):
        resp = api.client.get(PLAYBACK, headers={"Authorization": value}, params=RANGE)
        assert resp.status_code == 401


def test_revoked_tokens_stop_working(fresh_api):
    api = fresh_api
    old = api.token("kiki-sato")
    assert _get(api, old).status_code == 200
    resp = api.client.post("/api/v1/auth/revoke", headers={"Authorization": f"Bearer {old}"})
    assert resp.status_code == 204
    assert _get(api, old).status_code == 401
    api.tokens.clear()
    fresh = api.token("kiki-sato")
    assert _get(api, fresh).status_code == 200


def test_cli_revoke_and_password_change_end_sessions(fresh_api, monkeypatch, capsys):
    from camerahub.cli import main

    api = fresh_api
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", api.url)
    token = api.token("tokatsu-koseki")
    assert _get(api, token).status_code == 200
    assert main(["user", "revoke", "tokatsu-koseki"]) == 0
    assert _get(api, token).status_code == 401
    assert main(["user", "revoke", "no-such-user"]) == 2
    assert "no user 'no-such-user'" in capsys.readouterr().err


def test_deactivated_users_are_refused_at_once(fresh_api):
    api = fresh_api
    token = api.token("tokatsu-koseki")
    assert _get(api, token).status_code == 200
    removed = variant("- id: tokatsu-koseki\n  name: 戸籍住民分野 統括管理者\n"
                      "  role: division-manager\n  scope: koseki\n", "")
    removed = removed.replace("      managers:\n      - tokatsu-koseki\n", "", 1)
    deploy_text(api.url, removed)
    with api.sessions() as s:
        assert s.get(m.User, "tokatsu-koseki").active is False
    assert _get(api, token).status_code == 401
    assert api.client.get("/api/v1/cameras",
                          headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert api.login("tokatsu-koseki").status_code == 401


def test_token_for_a_user_that_never_existed(api):
    token = issue_token(SECRET, "ghost", 0, datetime.now(UTC), timedelta(minutes=5))
    assert _get(api, token).status_code == 401


@pytest.mark.parametrize(("scope", "action", "status"), [
    ("health", "health", 200), ("health", "deploy", 403), ("health", "audit", 403),
    ("deploy", "deploy", 200), ("deploy", "health", 403),
    ("alerts:log-analyzer", "alerts", 200), ("alerts:log-analyzer", "health", 403),
    ("alerts:log-analyzer", "deploy", 403), ("alerts:log-analyzer", "audit", 403),
])
def test_api_key_scopes(api, scope, action, status):
    key = api.key(scope)
    url = f"{TEST_PREFIX}/system/{action}"
    assert api.client.get(url, headers={"X-API-Key": key}).status_code == status
    assert api.client.get(url, headers={"Authorization": f"Bearer {key}"}).status_code == status


@pytest.mark.parametrize("scope", ["health", "deploy", "alerts:log-analyzer"])
def test_api_keys_never_reach_footage(api, scope):
    key = api.key(scope)
    for action in ("live", "playback", "export", "snapshot"):
        url = f"{TEST_PREFIX}/cameras/{KOSEKI}/{action}"
        resp = api.client.get(url, headers={"X-API-Key": key}, params=RANGE)
        assert resp.status_code == 404
    assert api.client.get("/api/v1/cameras", headers={"X-API-Key": key}).json() == []
    assert api.client.get(f"/api/v1/cameras/{KOSEKI}",
                          headers={"X-API-Key": key}).status_code == 404


def test_bad_and_revoked_api_keys(fresh_api):
    from camerahub.authz import accounts

    api = fresh_api
    key = api.key("health")
    url = f"{TEST_PREFIX}/system/health"
    assert api.client.get(url, headers={"X-API-Key": key}).status_code == 200
    for bad in (key[:-1] + ("A" if key[-1] != "A" else "B"), "chk_", key.upper(), "x" * 300):
        assert api.client.get(url, headers={"X-API-Key": bad}).status_code == 401
    with api.sessions.begin() as s:
        accounts.revoke_api_key(s, "test-health")
    assert api.client.get(url, headers={"X-API-Key": key}).status_code == 401
    with api.sessions() as s:
        row = s.scalar(select(m.ApiKey).where(m.ApiKey.name == "test-health"))
        assert row.key_hash != key and key not in row.key_hash and row.last_used_at is not None


def test_metrics_need_the_health_permission(api):
    assert api.client.get("/metrics").status_code == 401
    assert api.client.get("/metrics", headers=api.auth("kiki-sato")).status_code == 403
    resp = api.client.get("/metrics", headers={"X-API-Key": api.key("health")})
    assert resp.status_code == 200 and "camerahub_access_decisions_total" in resp.text
    assert api.client.get("/metrics", headers=api.auth("ops-takahashi")).status_code == 200


def test_me(api):
    body = api.client.get("/api/v1/auth/me", headers=api.auth("ops-takahashi")).json()
    assert body == {"kind": "user", "id": "ops-takahashi", "role": "ops", "scope": None,
                    "actions": ["deploy", "health"]}


def test_token_version_in_database_is_what_revocation_bumps(fresh_api):
    api = fresh_api
    token = api.token("bucho-kumin")
    with api.sessions.begin() as s:
        s.execute(update(m.User).where(m.User.id == "bucho-kumin")
                  .values(token_version=m.User.token_version + 1))
    assert _get(api, token).status_code == 401
