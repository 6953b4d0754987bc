"""Loopback ranges of the simulator folder's fixtures (see tests.support.simulators): its
conftest starts simulators on them and its tests name addresses in them."""

from __future__ import annotations

SUBNET_SHARED = 31  # 127.W.31.x HQ, 127.W.32.x facility: the session-wide read-only `sim`
SUBNET_FAULTS = 35  # `fault_sim`, fresh per test
SUBNET_PROCESS = 37  # `launch_sim` subprocesses
SUBNET_HEAVY = 39  # `heavy_sim`
SUBNET_START_FAULTS = 45  # test_faults_given_at_start
SUBNET_SETTINGS = 95  # test_settings.py (the deploy folder uses 91-94)
