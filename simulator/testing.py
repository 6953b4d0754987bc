"""Helpers to run simulators in tests on isolated addresses and free ports.

Other suites can build their own fixtures from these, e.g.::

    @pytest.fixture(scope="module")
    def cams():
        with running_simulator(cameras=3, subnet=51) as sim:
            yield sim

A suite's `subnet` N gives it 127.W.N.x (HQ) and 127.W.N+1.x (facilities). W is 0 in a plain
run; under pytest-xdist each worker gwK gets W = K + 1, so two workers running the same
suite never share an address (per-address WS-Discovery sockets on UDP 3702 would collide,
and a unicast scan of a range would find the other worker's cameras).
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulator.app import Simulator
from simulator.launcher import REPO_ROOT, SimulatorProcess

DEFAULT_CACHE = REPO_ROOT / ".sim-cache"  # git-ignored; shared so loops are encoded once


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on `host` right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def sim_cache_dir() -> Path:
    """$CAMERAHUB_SIM_CACHE, else the repository's git-ignored .sim-cache/."""
    env = os.environ.get("CAMERAHUB_SIM_CACHE")
    return Path(env) if env else DEFAULT_CACHE


def worker_octet() -> int:
    """Second address octet of this test process: 0, or K + 1 in pytest-xdist worker gwK."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    match = re.fullmatch(r"gw(\d+)", worker)
    if not match:
        return 0
    octet = int(match.group(1)) + 1
    if octet > 255:
        raise ValueError(f"too many xdist workers for per-worker ranges: {worker}")
    return octet


def subnet_prefixes(subnet: int) -> tuple[str, str]:
    """("127.W.SUBNET.", "127.W.SUBNET+1."): HQ and facility prefixes of a suite's range."""
    if not 3 <= subnet <= 253:
        raise ValueError("subnet must be 3..253 (127.0.1.x and 127.0.2.x are the defaults)")
    octet = worker_octet()
    return f"127.{octet}.{subnet}.", f"127.{octet}.{subnet + 1}."


def subnet_bases(subnet: int) -> tuple[str, str]:
    """HQ cameras from 127.W.SUBNET.1, facility cameras from 127.W.SUBNET+1.1."""
    hq, facility = subnet_prefixes(subnet)
    return f"{hq}1", f"{facility}1"


def isolated_kwargs(subnet: int) -> dict:
    """Simulator keyword arguments for a private address range and free ports."""
    hq_base, facility_base = subnet_bases(subnet)
    return {"hq_base": hq_base, "facility_base": facility_base, "port": free_port(hq_base),
            "rtsp_port": free_port(hq_base), "control_port": free_port(),
            "cache_dir": sim_cache_dir()}


@contextmanager
def running_simulator(cameras: int = 4, subnet: int = 31, **kwargs: object) -> Iterator[Simulator]:
    """An in-process simulator on 127.W.SUBNET.x / 127.W.SUBNET+1.x, stopped afterwards."""
    options = {**isolated_kwargs(subnet), **kwargs}
    sim = Simulator(cameras=cameras, **options)  # type: ignore[arg-type]
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


def isolated_args(subnet: int) -> tuple[list[str], dict]:
    """`camerahub-sim` arguments for a private range and free ports, and those ports."""
    kw = isolated_kwargs(subnet)
    args = ["--hq-base", kw["hq_base"], "--facility-base", kw["facility_base"],
            "--port", str(kw["port"]), "--rtsp-port", str(kw["rtsp_port"]),
            "--control-port", f"127.0.0.1:{kw['control_port']}",
            "--cache-dir", str(kw["cache_dir"])]
    return args, kw


@contextmanager
def running_process(*extra: str, subnet: int = 33, timeout: float = 300
                    ) -> Iterator[tuple[SimulatorProcess, dict]]:
    """`camerahub-sim` as a subprocess on a private range; yields (process, ports)."""
    args, kw = isolated_args(subnet)
    proc = SimulatorProcess([*args, *extra])
    try:
        proc.wait_ready(timeout)
        yield proc, kw
    finally:
        proc.stop()
