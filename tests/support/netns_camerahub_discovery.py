"""Child of tests/discovery/test_discovery_netns.py; runs INSIDE a private network namespace.

Starts 100 simulated cameras with multicast on `lo`, then discovers them by multicast only:
the bare probe, a full scan with interrogation, and `camerahub discover --interface lo`.
Prints one JSON line with what it found.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # run as a script

from camerahub.discovery.plan import ScanPlan, SitePlan  # noqa: E402
from camerahub.discovery.scan import Scan  # noqa: E402
from camerahub.onvif import Login, OnvifClient, WsDiscoveryProbe  # noqa: E402
from simulator.testing import running_process  # noqa: E402


def main() -> None:
    out: dict = {}
    with running_process("--cameras", "100", "--hq", "55", "--interface", "lo",
                         subnet=51) as (_sim, _ports):
        with WsDiscoveryProbe(interface="lo", timeout=2.0) as probe:
            sock = probe._sock
            out["ttl"] = sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL)
            out["loop"] = sock.getsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP)
            out["bound"] = probe.local_address[0]
            out["probe_found"] = len({m.endpoint for m in probe.run()})
        started = time.perf_counter()
        plan = ScanPlan((SitePlan("hq", interface="lo"),), probe_timeout=2.0)
        with OnvifClient(timeout=20) as client:
            sightings = Scan(plan, [], client, lambda _c: Login("admin", "admin")).run()
        out["scan_seconds"] = round(time.perf_counter() - started, 2)
        out["scan_found"] = len(sightings)
        out["interrogated"] = sum(1 for s in sightings if s.report and s.report.info.serial
                                  and len(s.report.profiles) == 2)
        cli = subprocess.run(
            [sys.executable, "-m", "camerahub.cli", "discover", "--interface", "lo", "--json",
             "--config", "/nonexistent/camerahub.yaml"], capture_output=True, text=True,
            timeout=120, env={**os.environ, "CAMERAHUB_DATA_DIR": os.environ["NETNS_TMP"]})
        out["cli_code"] = cli.returncode
        out["cli_stderr"] = cli.stderr[-500:]
        devices = json.loads(cli.stdout) if cli.returncode == 0 else []
        out["cli_found"] = len(devices)
        out["cli_unauthorized"] = sum(1 for d in devices if d["status"] == "unauthorized")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
