"""The real CLI: set-password, revoke, unlock, apikey create/list/revoke, serve refusals."""

from __future__ import annotations

import io
import json
import sys

import pytest
from sqlalchemy import select

from camerahub.cli import main
from camerahub.db import models as m
from camerahub.db.engine import open_database
from tests.support.deployment import NAKANO, deploy_example


@pytest.fixture
def cli(db_url, monkeypatch, capsys, tmp_path):
    """The CLI against a deployed database; returns run(*argv, stdin="") -> (code, out, err)."""
    deploy_example(db_url)
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", db_url)
    monkeypatch.setenv("CAMERAHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CAMERAHUB_CONFIG", str(NAKANO))

    def run(*argv: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        code = main(list(argv))
        out = capsys.readouterr()
        return code, out.out, out.err

    run.sessions = open_database(db_url)[1]
    return run


def _user(cli, user_id: str) -> m.User:
    with cli.sessions() as s:
        return s.get(m.User, user_id)


def test_set_password_from_stdin(cli):
    code, out, _ = cli("user", "set-password", "tokatsu-koseki", "--password-stdin",
                       stdin="Koseki-Pass-2026!\n")
    assert code == 0 and "Koseki" not in out
    user = _user(cli, "tokatsu-koseki")
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert user.token_version == 1


@pytest.mark.parametrize(("user", "password", "message"), [
    ("tokatsu-koseki", "short", "at least 12"),
    ("tokatsu-koseki", "onlylowercaseletters", "mix at least 3"),
    ("ghost", "Koseki-Pass-2026!", "no user 'ghost'"),
])
def test_set_password_refusals_exit_2(cli, user, password, message):
    code, _, err = cli("user", "set-password", user, "--password-stdin", stdin=password + "\n")
    assert code == 2 and message in err and err.count("\n") == 1


def test_set_password_without_a_terminal_needs_stdin_flag(cli):
    code, _, err = cli("user", "set-password", "tokatsu-koseki")
    assert code == 2 and "--password-stdin" in err


def test_revoke_and_unlock(cli):
    assert cli("user", "revoke", "kiki-sato")[0] == 0
    assert _user(cli, "kiki-sato").token_version == 1
    assert cli("user", "unlock", "kiki-sato")[0] == 0
    assert cli("user", "unlock", "ghost")[0] == 2


def test_apikey_lifecycle(cli):
    code, out, _ = cli("apikey", "create", "--name", "analyzer", "--scope",
                       "alerts:log-analyzer")
    key = out.strip()
    assert code == 0 and key.startswith("chk_") and len(key) > 40
    with cli.sessions() as s:
        row = s.scalar(select(m.ApiKey).where(m.ApiKey.name == "analyzer"))
        assert row.scope == "alerts:log-analyzer" and key not in row.key_hash
    code, out, _ = cli("apikey", "list", "--json")
    listed = json.loads(out)
    assert code == 0 and listed[0]["name"] == "analyzer" and key not in out
    assert cli("apikey", "create", "--name", "analyzer", "--scope", "health")[0] == 2
    assert cli("apikey", "create", "--name", "x", "--scope", "alerts:unknown")[0] == 2
    assert cli("apikey", "create", "--name", "x", "--scope", "root")[0] == 2
    assert cli("apikey", "revoke", "analyzer")[0] == 0
    assert cli("apikey", "revoke", "nope")[0] == 2


def test_serve_refuses_a_weak_secret(cli, monkeypatch):
    monkeypatch.setenv("CAMERAHUB_SECRET_KEY", "changeme")
    code, _, err = cli("serve", "--port", "1")
    assert code == 2 and "known default" in err and "changeme" not in err
