"""A 100-camera camerahub-sim subprocess on this folder's range (127.W.51.x HQ, 127.W.52.x
facilities), and deployments of the Nakano example rewritten to point at it."""

from __future__ import annotations

import pytest

from camerahub.config import parse_config
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from tests.support.discovery import SUBNET, Deployment, nakano_text
from tests.support.simulators import simulator_process_fixture

# 100 cameras, 55 at HQ as in the Nakano example (the simulator's default is 56); one per
# test process, shared by the folder's modules (tests that break a camera heal it)
sim100 = simulator_process_fixture(SUBNET, "--cameras", "100", "--hq", "55", scope="session")


@pytest.fixture
def deploy(sim100, tmp_path, monkeypatch):
    """Factory: write the rewritten example, apply it to a fresh SQLite database."""
    monkeypatch.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")
    monkeypatch.delenv("CAMERAHUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("CAMERAHUB_CONFIG", raising=False)

    def _deploy(name: str = "nakano", **kw) -> Deployment:
        url = f"sqlite:///{tmp_path / (name + '.db')}"
        text = nakano_text(sim100, url, **kw)
        path = tmp_path / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        cfg = parse_config(text, str(path))
        engine, sessions = open_database(url)
        with inventory_write(sessions) as session:
            apply_plan(session, plan_changes(session, cfg, prune=False), text, str(path))
        return Deployment(path, url, sessions, cfg)

    return _deploy


@pytest.fixture
def healthy(sim100):
    """Heal every camera a test broke."""
    broken: list[str] = []
    yield broken
    for cam in broken:
        sim100.heal(cam)
