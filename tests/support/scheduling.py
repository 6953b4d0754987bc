"""How the suite is spread over pytest-xdist workers (`-n 4` in pyproject.toml).

Work is handed out in units that run whole on one worker, as with `--dist loadscope`, so
module-scoped fixtures (a started simulator, a deployed app, a browser's server) are built
once. Two differences:

- Modules that share an expensive session fixture form one unit: the discovery folder's
  100-camera simulator process is started once, not once per worker that runs a module.
- Units are handed out longest first (a static hint from measured durations, below), so a
  two-minute module does not start last and hold up the end of the run: the workers sort
  their collections that way and `--no-loadscope-reorder` keeps xdist from reordering by test
  count. The hint only affects wall time: every test still runs, wherever and in whatever
  order.

Each worker has its own addresses (simulator.testing.worker_octet), tmp paths (xdist's
basetemp), SQLite files, PostgreSQL schemas and S3 buckets, so units never see each other.
"""

from __future__ import annotations

# Modules that must share a worker because they share a costly session fixture.
SHARED_UNITS = {
    "tests/discovery/test_discovery_cli.py": "tests/discovery (sim100)",
    "tests/discovery/test_discovery_simulator.py": "tests/discovery (sim100)",
}

# Units known to take long (serial seconds measured on a loaded 2-core machine), longest
# first; everything else follows in collection order. Update when a module grows slow.
SLOW_FIRST = (
    "tests/reliability/test_many_services.py",  # ~90 s: 60 s of load, by design
    "tests/api/test_schemathesis.py",  # ~100 s: every operation, signed in and out
    "tests/recorder/test_recorder_hostile.py",  # ~55 s: hostile ONVIF answers, one by one
    "tests/recorder/test_recorder_faults.py",  # ~120 s: S3 outage, SIGKILL, stall, drop
    "tests/discovery (sim100)",  # ~80 s: 100-camera process, scans
    "tests/ui/test_ui.py",  # ~65 s: Chromium, live grid over simulated cameras
    "tests/video/test_video_simulator_rtsp.py",  # ~45 s
    "tests/live/test_live.py",  # ~45 s
    "tests/recorder/test_recorder_e2e.py",  # ~40 s
    "tests/deploy/test_rollout_100.py",  # ~35 s: 100-camera process
    "tests/e2e/test_alert_to_evidence_e2e.py",  # ~35 s
    "tests/simulator/test_discovery_multicast.py",  # ~30 s: 100 cameras in a netns
    "tests/simulator/test_rtsp.py",  # ~25 s
    "tests/recorder/test_background.py",  # ~12 s
    "tests/discovery/test_discovery_netns.py",  # ~10 s: 100 cameras in a netns
    "tests/deploy/test_device_settings.py",  # ~10 s
)


def unit_of(nodeid: str) -> str:
    """The work unit of a test: its module, or the shared unit its module belongs to."""
    module = nodeid.split("::", 1)[0]
    return SHARED_UNITS.get(module, module)


def unit_rank(unit: str) -> int:
    """Position of a unit in the hand-out order (unlisted units after the slow ones)."""
    try:
        return SLOW_FIRST.index(unit)
    except ValueError:
        return len(SLOW_FIRST)


def slow_first(items: list) -> None:
    """Sort collected items so slow units come first (stable: a unit's tests keep their order).

    Runs in every xdist worker; all of them sort alike, so their collections stay identical.
    """
    items.sort(key=lambda item: unit_rank(unit_of(item.nodeid)))


def make_scheduler(config, log):
    """A LoadScopeScheduling whose units are the ones described above."""
    from xdist.scheduler import LoadScopeScheduling

    class SuiteScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return SuiteScheduling(config, log)
