"""Fixtures that run simulated cameras on private loopback ranges and free ports."""

from __future__ import annotations

import shutil

import pytest

from simulator.testing import running_process, running_simulator

# Each fixture family owns a /24 pair so parallel runs never share an address.
SUBNET_SHARED = 31  # 127.0.31.x HQ, 127.0.32.x facility
SUBNET_FAULTS = 35
SUBNET_PROCESS = 37
SUBNET_HEAVY = 39


@pytest.fixture(scope="session")
def sim():
    """Four cameras (3 HQ, 1 facility) shared by read-only tests."""
    with running_simulator(cameras=4, subnet=SUBNET_SHARED) as simulator:
        yield simulator


@pytest.fixture
def fault_sim():
    """A fresh two-camera simulator per test, for tests that break cameras."""
    with running_simulator(cameras=2, subnet=SUBNET_FAULTS) as simulator:
        yield simulator


@pytest.fixture
def heavy_sim():
    """One camera with a heavy small main stream: fills slow clients' queues quickly."""
    with running_simulator(cameras=1, subnet=SUBNET_HEAVY, main_size="640x360",
                           bitrate="4M") as simulator:
        yield simulator


@pytest.fixture
def launch_sim():
    """Factory: `launch_sim("--cameras", "3", ...)` runs camerahub-sim as a subprocess."""
    started = []

    def _launch(*args: str, subnet: int = SUBNET_PROCESS):
        ctx = running_process(*args, subnet=subnet)
        started.append(ctx)
        return ctx.__enter__()

    yield _launch
    for ctx in reversed(started):
        ctx.__exit__(None, None, None)


@pytest.fixture(scope="session")
def unshare_available() -> None:
    """Skip netns tests where a private network namespace cannot be made."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.skip("unshare/ip not installed: cannot create a private network namespace")
