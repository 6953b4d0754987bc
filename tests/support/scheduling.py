"""How the suite is spread over pytest-xdist workers (`-n 7` in pyproject.toml).

Work is handed out in units that run whole on one worker, as with `--dist loadscope`, so
module-scoped fixtures (a started simulator, a deployed app, a browser's server) are built
once. Two differences:

- Modules that share an expensive session fixture form one unit: the discovery folder's
  100-camera simulator process is started once, not once per worker that runs a module.
- Modules whose tests are long and independent (their module fixtures are cheap to build
  again) are split: each test is a unit of its own, so one module's three minutes of
  recording faults run side by side on several workers instead of one after another.
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

# Modules split into one unit per test (module fixtures, if any, are built once per worker).
SPLIT_MODULES = frozenset({
    "tests/recorder/test_recorder_faults.py",
    "tests/recorder/test_recorder_hostile.py",
    "tests/recorder/test_recorder_hostile_streams.py",
    "tests/video/test_video_receipt_time.py",
})

# Units known to take long (serial seconds measured on a loaded 2-core machine), longest
# first; everything else follows in collection order. Update when a module grows slow.
SLOW_FIRST = (
    "tests/reliability/test_camera_chaos.py",  # ~140 s: two minutes of faults, by design
    "tests/reliability/test_s3_outage.py",  # ~80 s: a 60 s S3 outage, by design
    "tests/reliability/test_many_services.py",  # ~30 s: 20 s of load, by design
    "tests/ui/test_ops_console.py",  # ~40 s: 100-camera process, discovery, Chromium
    "tests/recorder/test_recorder_hostile.py::test_bad_onvif_answers_never_end_a_cameras_loop",
    "tests/ui/test_ui.py",  # ~65 s: Chromium, live grid over simulated cameras
    "tests/ui/test_live_wall.py",  # ~40 s: Chromium, a 16-tile wall over WebSockets
    "tests/ui/test_review_ui.py",  # ~35 s: Chromium, timeline and incident workspace
    "tests/api/test_schemathesis.py",  # ~45 s: every operation, signed in and out
    "tests/discovery (sim100)",  # ~45 s: 100-camera process, scans
    "tests/reliability/test_sigkill.py",  # ~60 s: four recorder processes
    "tests/reliability/test_spool_full.py",  # ~50 s: fills a tmpfs, drains it
    "tests/recorder/test_recorder_hostile_streams.py",  # ~40 s per test
    "tests/deploy/test_rollout_100.py",  # ~50 s: 100-camera process
    "tests/e2e/test_alert_to_evidence_e2e.py",  # ~35 s
    "tests/video/test_video_simulator_rtsp.py",  # ~40 s
    "tests/video/test_video_receipt_time.py",  # ~25 s per test
    "tests/simulator/test_stream_faults.py",  # ~35 s
    "tests/live/test_live.py",  # ~45 s
    "tests/video/test_video_rtsps.py",  # ~15 s: TLS simulator, both engines, the tunnel
    "tests/live/test_live_ws.py",  # ~30 s
    "tests/audit/test_viewing_register.py",  # ~25 s: a month of activity, a PDF
    "tests/recorder/test_recorder_e2e.py",  # ~40 s
    "tests/simulator/test_discovery_multicast.py",  # ~25 s: 100 cameras in a netns
    "tests/discovery/test_discovery_netns.py",  # ~20 s: 100 cameras in a netns
    "tests/reliability/test_foreign_rtsp.py",  # ~30 s: GStreamer's RTSP server
    "tests/reliability/test_postgres_restart.py",  # ~30 s: initdb, pg_ctl restart
    "tests/recorder/test_recorder_faults.py",  # ~20 s per remaining test
    "tests/recorder/test_recorder_hostile.py",  # ~10 s per remaining test
    "tests/simulator/test_rtsp.py",  # ~25 s
    "tests/recorder/test_background.py",  # ~15 s
    "tests/recorder/test_recorder_rtsps.py",  # ~20 s: two recorders over TLS
    "tests/deploy/test_device_settings.py",  # ~10 s
)


def unit_of(nodeid: str) -> str:
    """The work unit of a test: itself in a split module, else its module or shared unit."""
    module = nodeid.split("::", 1)[0]
    if module in SPLIT_MODULES:
        return nodeid
    return SHARED_UNITS.get(module, module)


def unit_rank(unit: str) -> int:
    """Position of a unit in the hand-out order (unlisted units after the slow ones).

    A split module's test matches its own entry (without parameters) before its module's."""
    function = unit.split("[", 1)[0]
    for key in (unit, function, unit.split("::", 1)[0]):
        if key in SLOW_FIRST:
            return SLOW_FIRST.index(key)
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
