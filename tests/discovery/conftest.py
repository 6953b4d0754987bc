"""A 100-camera camerahub-sim subprocess on this suite's range (127.0.51.x HQ, 127.0.52.x
facilities), and deployments of the Nakano example rewritten to point at it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from camerahub.config import parse_config
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes

testing = pytest.importorskip("simulator.testing")

SUBNET = 51
HQ_PREFIX, FACILITY_PREFIX = "127.0.51.", "127.0.52."
NAKANO = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "nakano.yaml"


@dataclass
class SimInfo:
    """Where the simulator listens."""

    http_port: int
    rtsp_port: int
    control: str

    def fault(self, camera: str, **faults) -> None:
        """Switch faults on a camera (id or address) through the control endpoint."""
        httpx.post(f"{self.control}/cameras/{camera}/faults", json=faults,
                   timeout=30).raise_for_status()

    def heal(self, camera: str) -> None:
        httpx.delete(f"{self.control}/cameras/{camera}/faults", timeout=30).raise_for_status()

    def camera(self, camera: str) -> dict:
        return httpx.get(f"{self.control}/cameras/{camera}", timeout=30).json()


@pytest.fixture(scope="session")
def sim100():
    """100 cameras, 55 at HQ as in the Nakano example (the simulator's default is 56)."""
    with testing.running_process("--cameras", "100", "--hq", "55", subnet=SUBNET) as (_p, kw):
        yield SimInfo(kw["port"], kw["rtsp_port"], f"http://127.0.0.1:{kw['control_port']}")


@dataclass
class Deployment:
    """A deployment file and its applied inventory database."""

    path: Path
    url: str
    sessions: object
    config: object


def nakano_text(sim: SimInfo, url: str, drop: set[str] = frozenset(),
                interval_s: int | None = None, manual: set[str] = frozenset()) -> str:
    """The example on the simulator's addresses and port, with its own database."""
    data = yaml.safe_load(NAKANO.read_text(encoding="utf-8"))
    data["database_url"] = url
    data["defaults"]["port"] = sim.http_port
    for site in data["sites"]:
        site["discovery"]["targets"] = [_move(t) for t in site["discovery"].get("targets", [])]
        if interval_s:
            site["discovery"]["interval_s"] = interval_s
        if site["id"] in manual:
            site["discovery"] = {"mode": "manual"}
    data["cameras"] = [dict(c, address=_move(c["address"])) for c in data["cameras"]
                       if c["id"] not in drop]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _move(text: str) -> str:
    return text.replace("127.0.1.", HQ_PREFIX).replace("127.0.2.", FACILITY_PREFIX)


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
