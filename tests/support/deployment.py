"""The example deployment applied with the real deploy code, the real app over it, and an
oracle of who sees what (shared by the authz, api, cli, live, ui and e2e tests)."""

from __future__ import annotations

import atexit
import secrets
import shutil
import tempfile
from pathlib import Path

from camerahub import audit
from camerahub.api import Settings, create_app
from camerahub.authz import accounts
from camerahub.authz.passwords import FAST_TEST_PARAMS, Passwords
from camerahub.composition import Tuning, build_services
from camerahub.config import Config, Runtime, load_config, parse_config
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from camerahub.live import LiveOptions
from tests.support.paths import NAKANO

PASSWORD = "Kuyakusho-Pass-2026!"
SECRET = secrets.token_urlsafe(48)


def deploy_text(url: str, text_: str, source: str = "test") -> Config:
    """Apply a deployment file's text with the real deploy code (as `deploy apply` does)."""
    cfg = parse_config(text_, source)
    _, sessions = open_database(url)
    with inventory_write(sessions) as session:
        plan = plan_changes(session, cfg)
        deployment = apply_plan(session, plan, text_, source)
        if deployment is not None:
            audit.append(session, actor=audit.actors.CLI, action="deploy.apply", decision="allow",
                         detail={"config_sha256": deployment.config_sha256})
    return cfg


def deploy_example(url: str) -> Config:
    """deploy/examples/nakano.yaml applied into the database at url."""
    return deploy_text(url, NAKANO.read_text(encoding="utf-8"), str(NAKANO))


def variant(old: str, new: str) -> str:
    """The example file with one exact piece of text replaced (must occur)."""
    text_ = NAKANO.read_text(encoding="utf-8")
    assert old in text_, old
    return text_.replace(old, new, 1)


def with_inventory_change(text: str) -> str:
    """deploy apply records a deployment (and so a policy version) only when the inventory
    changes; an access-only edit needs a restart today, so touch a camera name as well."""
    return text.replace("name: 1階 戸籍執務室 カメラ1", "name: 1階 戸籍執務室 カメラ1（更新）", 1)


def set_all_passwords(url: str, cfg: Config, password: str = PASSWORD) -> None:
    """Give every user the same password (cheap argon2 costs for tests)."""
    _, sessions = open_database(url)
    hasher = Passwords(FAST_TEST_PARAMS)
    with sessions.begin() as session:
        for user in cfg.users:
            accounts.set_password(session, hasher, cfg.auth, user.id, password)


def scratch_dir() -> Path:
    """A data directory of its own, removed when the test run ends."""
    path = Path(tempfile.mkdtemp(prefix="camerahub-app-"))
    atexit.register(shutil.rmtree, path, True)
    return path


def make_app(url: str, cfg: Config | None = None, *, data_dir: Path | None = None,
             live: LiveOptions | None = None, **overrides):
    """The real app on url, with cheap argon2 and a policy check on every request.

    Its services come from the composition root, as in `camerahub serve`; live tunes the
    live hub, data_dir (default: a scratch directory) holds a file store's segments.
    """
    cfg = cfg or load_config(NAKANO)
    runtime = Runtime(NAKANO, data_dir or scratch_dir(), url)
    tuning = Tuning(password_hashing=FAST_TEST_PARAMS, policy_check_interval_s=0,
                    live=live or LiveOptions())
    services = build_services(cfg, runtime, tuning)
    return create_app(Settings(config=cfg, secret_key=SECRET, **overrides), services)


def cameras_in_area(cfg: Config, area: str | None) -> set[str]:
    """Independent oracle from the YAML: cameras in a department or division (None: all)."""
    rooms = {room.id for dept, div, room in cfg.org.rooms()
             if area is None or area in (dept.id, div.id)}
    return {cam.id for cam in cfg.cameras if cam.room in rooms}
