"""Simulated cameras for the test folders, started one way everywhere.

Each folder owns a SUBNET N: its cameras are on 127.W.N.x (HQ) and 127.W.N+1.x (facilities),
on free ports. W is 0 in a plain run and differs per pytest-xdist worker (see
simulator.testing.worker_octet), so the same folder running on two workers never shares an
address. Ranges in use: 31-39 and 45 simulator, 41 video, 51 discovery (and its netns run),
53 and 55 onvif, 61 recorder (61 also inside the simulator's netns run), 65 e2e, 67 recorder
background, 81 live, 83 ui, 91 and 93 deploy, 95 simulator settings, 121 video over TLS,
123 recorder over TLS (others: grep for SUBNET before taking one); behind a hostile ONVIF
front (tests.support.hostile_onvif): 201 onvif, 203 recorder, 205 discovery; 231 and 241-249
(odd) reliability; benchmarks use 71 (record_bench) and 73 (soak).

Encoded video loops come from the shared .sim-cache/ (written atomically, see simulator.media).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

import httpx
import pytest
import yaml

from simulator.launcher import SimulatorProcess
from simulator.testing import running_process, running_simulator, subnet_bases, subnet_prefixes
from tests.support.paths import NAKANO

__all__ = ["ProcessFleet", "SimProcess", "nakano_on", "running_simulator", "simulator_fixture",
           "simulator_process", "simulator_process_fixture", "subnet_bases", "subnet_prefixes"]


def simulator_fixture(subnet: int, *, scope: str = "module", requires: tuple[str, ...] = (),
                      **options: object):
    """A fixture running an in-process simulator on SUBNET's range for its scope.

    Assign it in a conftest or test module: `sim = simulator_fixture(81, cameras=4, hq=4)`;
    `requires` names fixtures to set up first (an environment the cameras' users need).
    Share a module or session scope where tests only read; tests that break cameras either
    heal them afterwards or use a function-scoped simulator of their own.
    """

    @pytest.fixture(scope=scope)
    def fixture(request):
        for name in requires:
            request.getfixturevalue(name)
        with running_simulator(subnet=subnet, **options) as sim:
            yield sim

    hq, facility = subnet_prefixes(subnet)
    fixture.__doc__ = f"In-process simulator on {hq}x / {facility}x ({scope} scope): {options}"
    return fixture


@dataclass
class SimProcess:
    """A `camerahub-sim` subprocess on a suite's range, with its ports and control endpoint."""

    process: SimulatorProcess
    subnet: int
    ports: dict  # hq_base, facility_base, port, rtsp_port, control_port, cache_dir

    @property
    def http_port(self) -> int:
        return self.ports["port"]

    @property
    def rtsp_port(self) -> int:
        return self.ports["rtsp_port"]

    @property
    def control(self) -> str:
        """Base URL of the control endpoint."""
        return f"http://127.0.0.1:{self.ports['control_port']}"

    @property
    def hq_prefix(self) -> str:
        return subnet_prefixes(self.subnet)[0]

    @property
    def facility_prefix(self) -> str:
        return subnet_prefixes(self.subnet)[1]

    def fault(self, camera: str, **faults) -> None:
        """Switch faults on a camera (id or address) through the control endpoint."""
        httpx.post(f"{self.control}/cameras/{camera}/faults", json=faults,
                   timeout=30).raise_for_status()

    def heal(self, camera: str) -> None:
        """Clear every fault of a camera."""
        httpx.delete(f"{self.control}/cameras/{camera}/faults", timeout=30).raise_for_status()

    def camera(self, camera: str) -> dict:
        """One camera as the simulator holds it."""
        return httpx.get(f"{self.control}/cameras/{camera}", timeout=30).json()

    def cameras(self) -> list[dict]:
        """Every camera as the simulator holds it."""
        return httpx.get(f"{self.control}/cameras", timeout=30).json()

    def sent(self, camera: str) -> dict:
        """Per profile, what the camera sent when (keyframes, sessions, skips)."""
        return httpx.get(f"{self.control}/cameras/{camera}/sent", timeout=30).json()


class ProcessFleet:
    """A SimProcess seen as tests.support.recorder's helpers see an in-process Simulator:
    `cameras` (each with `camera_id` and `address`), `options.http_port`, `sent()`."""

    def __init__(self, sim: SimProcess) -> None:
        self.process = sim
        self.cameras = [SimpleNamespace(camera_id=c["id"], address=c["address"])
                        for c in sim.cameras()]
        self.options = SimpleNamespace(http_port=sim.http_port, rtsp_port=sim.rtsp_port)

    def sent(self, camera: str) -> dict:
        return self.process.sent(camera)


@contextmanager
def simulator_process(*args: str, subnet: int) -> Iterator[SimProcess]:
    """`camerahub-sim ARGS` as a subprocess on SUBNET's range, stopped afterwards."""
    with running_process(*args, subnet=subnet) as (proc, ports):
        yield SimProcess(proc, subnet, ports)


def simulator_process_fixture(subnet: int, *args: str, scope: str = "module"):
    """Like simulator_fixture, for a `camerahub-sim ARGS` subprocess (yields a SimProcess)."""

    @pytest.fixture(scope=scope)
    def fixture():
        with simulator_process(*args, subnet=subnet) as sim:
            yield sim

    hq, facility = subnet_prefixes(subnet)
    fixture.__doc__ = f"camerahub-sim {' '.join(args)} on {hq}x / {facility}x ({scope} scope)"
    return fixture


def nakano_on(sim: SimProcess) -> dict:
    """The Nakano example as data, its cameras and discovery targets moved onto the
    simulator's ranges (127.0.1.x -> HQ, 127.0.2.x -> facilities) and HTTP port."""

    def move(text: str) -> str:
        return text.replace("127.0.1.", sim.hq_prefix).replace("127.0.2.", sim.facility_prefix)

    data = yaml.safe_load(NAKANO.read_text(encoding="utf-8"))
    data["defaults"]["port"] = sim.http_port
    for site in data["sites"]:
        site["discovery"]["targets"] = [move(t) for t in site["discovery"].get("targets", [])]
    data["cameras"] = [dict(c, address=move(c["address"])) for c in data["cameras"]]
    return data
