"""Fixtures that run simulated cameras on private loopback ranges and free ports."""

from __future__ import annotations

import pytest

from tests.support.sim_ranges import (
    SUBNET_FAULTS,
    SUBNET_HEAVY,
    SUBNET_PROCESS,
    SUBNET_SHARED,
)
from tests.support.simulators import running_process, simulator_fixture

# Four cameras (3 HQ, 1 facility) shared by read-only tests
sim = simulator_fixture(SUBNET_SHARED, scope="session", cameras=4)

# A fresh two-camera simulator per test, for tests that break cameras
fault_sim = simulator_fixture(SUBNET_FAULTS, scope="function", cameras=2)

# One camera with a heavy small main stream: fills slow clients' queues quickly
heavy_sim = simulator_fixture(SUBNET_HEAVY, scope="function", cameras=1, main_size="640x360",
                              bitrate="4M")


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
