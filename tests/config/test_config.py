"""The deployment file: valid examples load; broken ones fail with path, line and exit 2."""

from __future__ import annotations

import copy

import pytest
import yaml
from sqlalchemy import create_engine, func, select

from camerahub.cli import main
from camerahub.config import ConfigError, load_config, parse_config
from camerahub.db import models as m
from tests.support.paths import EXAMPLES

MINIMAL = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text(encoding="utf-8"))


def test_nakano_example_has_100_cameras_55_at_hq():
    cfg = load_config(EXAMPLES / "nakano.yaml")
    assert len(cfg.cameras) == 100
    assert sum(c.site == "hq" for c in cfg.cameras) == 55
    assert {u.role for u in cfg.users} == {
        "crisis-management", "department-head", "division-manager", "ops", "auditor"}
    addresses = {c.address for c in cfg.cameras}
    assert {f"127.0.1.{i}" for i in range(1, 56)} <= addresses
    assert {f"127.0.2.{i}" for i in range(1, 46)} <= addresses


def test_minimal_example_loads():
    cfg = load_config(EXAMPLES / "minimal.yaml")
    assert [c.id for c in cfg.cameras] == ["hq-1f-koseki-01", "hq-1f-koseki-02"]
    assert cfg.room_owner("hq-1f-koseki") == ("kumin", "koseki")


def _mutate(fn):
    data = copy.deepcopy(MINIMAL)
    fn(data)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _set(path, value):
    def fn(data):
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return fn


def _append(path, item):
    def fn(data):
        node = data
        for part in path:
            node = node[part]
        node.append(item)
    return fn


ROOM = ("org", "departments", 0, "divisions", 0, "rooms")
CAM2 = {"id": "hq-1f-koseki-03", "name": "x", "site": "hq", "room": "hq-1f-koseki",
        "address": "127.0.1.3"}

# (case id, YAML text, expected path, fragment of the message)
BROKEN = [
    ("unknown-room", _mutate(_set(("cameras", 1, "room"), "nowhere")), "cameras[1].room",
     "unknown room 'nowhere'"),
    ("unknown-site", _mutate(_set(("cameras", 0, "site"), "mars")), "cameras[0].site",
     "unknown site 'mars'"),
    ("duplicate-camera-id", _mutate(_append(("cameras",), {**CAM2, "id": "hq-1f-koseki-01"})),
     "cameras[2].id", "duplicate camera id"),
    ("duplicate-address", _mutate(_append(("cameras",), {**CAM2, "address": "127.0.1.1"})),
     "cameras[2].address", "duplicate camera address"),
    ("inline-password", _mutate(_set(("credentials", 0, "password"), "admin")),
     "credentials[0].password", "inline secrets are not allowed"),
    ("wrong-type-port", _mutate(_set(("cameras", 0, "port"), "eighty")), "cameras[0].port",
     "valid integer"),
    ("port-out-of-range", _mutate(_set(("cameras", 0, "port"), 70000)), "cameras[0].port",
     "less than or equal to 65535"),
    ("unknown-key", _mutate(_set(("cameras", 0, "colour"), "red")), "cameras[0].colour",
     "unknown key"),
    ("bad-id-characters", _mutate(_set(("cameras", 0, "id"), "HQ Camera/1")), "cameras[0].id",
     "should match pattern"),
    ("user-scope-unknown", _mutate(_set(("users", 2, "scope"), "zeimu")), "users[2].scope",
     "is not a division"),
    ("scoped-role-without-scope", _mutate(_set(("users", 1, "scope"), None)), "users[1]",
     "needs a scope"),
    ("unknown-role", _mutate(_set(("users", 0, "role"), "superuser")), "users[0].role",
     "Input should be"),
    ("terminal-room-unknown", _mutate(_set(("terminals", 0, "room"), "hq-9f-none")),
     "terminals[0].room", "unknown room"),
    ("room-site-unknown", _mutate(_set(ROOM + (0, "site"), "moon")),
     "org.departments[0].divisions[0].rooms[0].site", "unknown site 'moon'"),
    ("duplicate-area-id", _mutate(_append(ROOM, {"id": "koseki", "name": "x", "site": "hq"})),
     "org.departments[0].divisions[0].rooms[1].id", "duplicate area id"),
    ("credential-unknown", _mutate(_set(("cameras", 0, "credential"), "nokey")),
     "cameras[0].credential", "unknown credential"),
    ("credential-both-sources", _mutate(_set(("credentials", 0, "password_file"), "/x")),
     "credentials[0]", "exactly one of password_env or password_file"),
    ("multicast-without-interface", _mutate(_set(("sites", 0, "discovery"), {"mode": "multicast"})),
     "sites[0].discovery", "needs an interface"),
    ("no-sites", _mutate(_set(("sites",), [])), "sites", "at least 1 item"),
    ("head-wrong-role", _mutate(_set(("org", "departments", 0, "head"), "kiki-sato")),
     "org.departments[0].head", "must have role department-head"),
    ("yaml-syntax-error", "sites: [\n  - id: hq\n    name: {broken\n", "", "YAML syntax error"),
    ("empty-file", "", "", "file is empty"),
    ("top-level-list", "- a\n- b\n", "", "top level must be a mapping"),
    ("duplicate-key", "version: 1\nversion: 1\nsites: []\n", "version", "duplicate key"),
    ("s3-without-settings", _mutate(_set(("storage",), {"backend": "s3"})), "storage",
     "needs an s3: section"),
    ("camera-retention-above-ceiling", _mutate(lambda d: (
        _set(("retention",), {"default_days": 14, "max_days": 14})(d),
        _set(("cameras", 1, "recording"), {"retention_days": 30})(d))),
     "cameras[1].recording.retention_days", "30 days is above retention.max_days (14)"),
    ("site-retention-above-ceiling", _mutate(lambda d: (
        _set(("retention",), {"default_days": 7, "max_days": 14})(d),
        _set(("sites", 0, "retention_days"), 15)(d))),
     "sites[0].retention_days", "above retention.max_days"),
    ("default-retention-above-ceiling", _mutate(_set(("retention",), {"max_days": 14})),
     "retention.default_days", "30 days is above retention.max_days (14)"),
]


@pytest.mark.parametrize("text,path,fragment", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_broken_config_names_the_path(text, path, fragment):
    with pytest.raises(ConfigError) as err:
        parse_config(text, "bad.yaml")
    issues = err.value.issues
    assert any(i.path == path and fragment in i.message for i in issues), issues
    assert all(i.file == "bad.yaml" for i in issues)


def test_error_carries_the_line_number():
    text = (EXAMPLES / "minimal.yaml").read_text(encoding="utf-8")
    text = text.replace("room: hq-1f-koseki, address: 127.0.1.2", "room: hq-9f, address: 127.0.1.2")
    with pytest.raises(ConfigError) as err:
        parse_config(text, "m.yaml")
    (issue,) = err.value.issues
    line = next(n for n, ln in enumerate(text.splitlines(), 1) if "room: hq-9f" in ln)
    assert (issue.path, issue.line) == ("cameras[1].room", line)
    assert str(issue).startswith(f"m.yaml:{line}: cameras[1].room: unknown room")


def _count_cameras(url):
    engine = create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(m.Camera)).scalar()
    engine.dispose()
    return n


@pytest.mark.parametrize("text,path,fragment", [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_cli_rejects_broken_file_with_exit_2_and_changes_nothing(
        text, path, fragment, tmp_path, sqlite_url, monkeypatch, capsys):
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", sqlite_url)
    assert main(["deploy", "apply", "-f", str(EXAMPLES / "minimal.yaml")]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    capsys.readouterr()
    assert main(["deploy", "apply", "-f", str(bad), "--prune"]) == 2
    err = capsys.readouterr().err
    assert "invalid configuration" in err and fragment in err and str(bad) in err
    assert "Traceback" not in err
    assert _count_cameras(sqlite_url) == 2


def test_missing_file_exits_2(capsys, sqlite_url, monkeypatch):
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", sqlite_url)
    assert main(["deploy", "plan", "-f", "/nonexistent/x.yaml"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_huge_file_is_refused(tmp_path, capsys, sqlite_url, monkeypatch):
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", sqlite_url)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (9 * 1024 * 1024))
    assert main(["deploy", "plan", "-f", str(big)]) == 2
    assert "the limit is" in capsys.readouterr().err
