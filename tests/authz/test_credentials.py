"""Password policy and hashing, token signing secrets, API key format, settings start-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from camerahub.api import Settings, create_app
from camerahub.authz import apikeys
from camerahub.authz.errors import NotAuthenticated, PasswordPolicyError, WeakSecret
from camerahub.authz.passwords import FAST_TEST_PARAMS, HashParams, Passwords, check_password
from camerahub.authz.tokens import check_secret, issue_token, verify_token
from camerahub.composition import build_services
from camerahub.config import Runtime, load_config
from tests.support.deployment import NAKANO

GOOD_SECRET = "k3Y-" + "a1B2c3D4e5F6g7H8i9J0kLmNoPqRsTuV"


@pytest.mark.parametrize(("password", "ok"), [
    ("Short1!", False),
    ("alllowercaseletters", False),
    ("lowercase-and-symbols", False),
    ("Lowercase-And-Upper", True),
    ("lower-and-digits-123", True),
    ("ALLUPPER12345", False),
    ("Upper-lower-123", True),
    ("区民情報を守る-Pass1", True),
    ("x" * 2000 + "A1!", False),
])
def test_password_policy(password, ok):
    if ok:
        check_password(password, 12, 3)
    else:
        with pytest.raises(PasswordPolicyError):
            check_password(password, 12, 3)


def test_argon2id_hashes_verify_with_their_own_costs():
    fast, default = Passwords(FAST_TEST_PARAMS), HashParams()
    stored = fast.hash("Upper-lower-123")
    assert stored.startswith("$argon2id$") and "Upper" not in stored
    assert fast.verify(stored, "Upper-lower-123") and not fast.verify(stored, "upper-lower-123")
    assert not fast.verify(None, "anything") and not fast.verify("not-a-hash", "x")
    assert default.memory_cost >= 65536 and default.time_cost >= 3  # production: memory-hard


@pytest.mark.parametrize(("secret", "problem"), [
    (None, "not set"), ("", "not set"), ("changeme", "known default"),
    ("CHANGEME-please-change-this-value-now!!", "known default"),
    ("short-secret", "shorter than 32"), ("a" * 40, "variety"),
    ("camerahub-demo-secret-key-do-not-use-in-production", "known default"),
])
def test_weak_secrets_are_refused_unless_demo(secret, problem):
    with pytest.raises(WeakSecret, match=problem):
        check_secret(secret)
    assert check_secret(secret, demo=True) == secret


def test_settings_read_the_secret_from_env_or_file(monkeypatch, tmp_path):
    cfg = load_config(NAKANO)
    monkeypatch.delenv("CAMERAHUB_SECRET_KEY", raising=False)
    with pytest.raises(WeakSecret, match="not set"):
        Settings.load(cfg)
    demo = Settings.load(cfg, demo=True)
    assert len(demo.secret_key) >= 32 and GOOD_SECRET not in repr(demo)
    monkeypatch.setenv("CAMERAHUB_SECRET_KEY", GOOD_SECRET)
    assert Settings.load(cfg).secret_key == GOOD_SECRET
    secret_file = tmp_path / "secret"
    secret_file.write_text("changeme\n")
    from_file = cfg.model_copy(update={"auth": cfg.auth.model_copy(
        update={"secret_file": secret_file})})
    with pytest.raises(WeakSecret, match="known default"):
        Settings.load(from_file)


def test_create_app_refuses_a_weak_secret(sqlite_url, tmp_path):
    cfg = load_config(NAKANO)
    settings = Settings(config=cfg, secret_key="x" * 8)
    services = build_services(cfg, Runtime(NAKANO, tmp_path, sqlite_url))
    with pytest.raises(WeakSecret):
        create_app(settings, services)
    services.close()


def test_token_round_trip_and_expiry():
    now = datetime.now(UTC)
    token = issue_token(GOOD_SECRET, "u1", 3, now, timedelta(minutes=5))
    claims = verify_token(GOOD_SECRET, token)
    assert (claims.sub, claims.token_version) == ("u1", 3)
    assert claims.expires_at - claims.issued_at == timedelta(minutes=5)
    old = issue_token(GOOD_SECRET, "u1", 3, now - timedelta(minutes=6), timedelta(minutes=5))
    with pytest.raises(NotAuthenticated):
        verify_token(GOOD_SECRET, old)
    with pytest.raises(NotAuthenticated):
        verify_token(GOOD_SECRET + "x", token)


@pytest.mark.parametrize(("scope", "valid"), [
    ("deploy", True), ("health", True), ("alerts:log-analyzer", True), ("audit", False),
    ("alerts:", False), ("alerts:Log", False), ("*", False), ("deploy ", False),
    ("alerts:other", False),
])
def test_api_key_scopes_are_checked(scope, valid):
    if valid:
        assert apikeys.check_scope(scope, {"log-analyzer"}) == scope
    else:
        with pytest.raises(Exception, match="scope|source"):
            apikeys.check_scope(scope, {"log-analyzer"})


def test_api_key_format_and_hash():
    new = apikeys.generate_key()
    assert apikeys.parse_key(new.key) == new.prefix and apikeys.key_matches(new.key, new.key_hash)
    assert new.key not in new.key_hash and apikeys.parse_key(new.key + "x") is None
    assert apikeys.scope_allows("alerts:log-analyzer", "alerts")
    assert not apikeys.scope_allows("alerts:log-analyzer", "alerts:other")
    assert not apikeys.scope_allows("health", "deploy")


def test_principal_names():
    from camerahub.authz import Principal

    key = Principal("apikey", "analyzer", None, "alerts:log-analyzer")
    assert key.subject == "apikey:analyzer" and key.alert_source == "log-analyzer"
    assert Principal("apikey", "h", None, "health").alert_source is None
    assert Principal("user", "kiki-sato", "crisis-management").subject == "user:kiki-sato"
    # a key named like a user is never that user, in the trail or anywhere else
    lookalike = Principal("apikey", "kiki-sato", None, "health")
    assert lookalike.subject == "apikey:kiki-sato" and lookalike.person is None
    media = Principal("media", "kiki-sato", "crisis-management", camera="c1")
    assert media.subject == "user:kiki-sato" and media.person == "kiki-sato"
