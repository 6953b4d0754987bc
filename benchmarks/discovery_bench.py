"""Discovery benchmark: probe and fully interrogate 10, 50 and 100 simulated cameras.

The simulator runs as a subprocess on a private loopback range (127.0.57.x) and free ports;
discovery is unicast (directed WS-Discovery probes), so no multicast leaves the machine.
Each measurement starts from a cold adapter (WSDLs parsed again) and ends when every
camera's interrogation has finished. The last line printed is one JSON object.

    python benchmarks/discovery_bench.py [--quick] [--cameras 100] [--workers 16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camerahub.discovery.plan import ScanPlan, SitePlan  # noqa: E402
from camerahub.discovery.scan import Scan  # noqa: E402
from camerahub.onvif import Login, OnvifClient  # noqa: E402
from simulator.testing import running_process  # noqa: E402

SUBNET = 57  # 127.0.57.x: this benchmark's own range


def measure(count: int, workers: int, probe_timeout: float) -> dict:
    """One cold discovery of the first `count` cameras."""
    OnvifClient._documents.clear()  # cold start: parse the WSDLs inside the measurement
    targets = tuple(f"127.0.{SUBNET}.{i}" for i in range(1, count + 1))
    plan = ScanPlan((SitePlan("bench", targets=targets),), probe_timeout=probe_timeout)
    login = Login("admin", "admin")
    started = time.perf_counter()
    client = OnvifClient(timeout=10, max_workers=workers)
    try:
        sightings = Scan(plan, [], client, lambda _cam: login).run()
    finally:
        client.close()
    seconds = time.perf_counter() - started
    ok = [s for s in sightings if s.report is not None]
    complete = [s for s in ok if s.report.info.serial and len(s.report.profiles) == 2
                and all(p.stream_uri for p in s.report.profiles)]
    return {"cameras": count, "found": len(sightings), "interrogated": len(complete),
            "seconds": round(seconds, 3)}


def main() -> int:
    """Run the scaling series and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="one run per size (under 60 s)")
    ap.add_argument("--cameras", type=int, default=100)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--probe-timeout", type=float, default=2.0)
    args = ap.parse_args()
    repeats = 1 if args.quick else 3
    sizes = sorted({n for n in (10, 50, args.cameras) if n <= args.cameras})
    with running_process("--cameras", str(args.cameras), "--hq", str(args.cameras),
                         "--control-port", "off", subnet=SUBNET) as (sim, _ports):
        print(f"simulator ready in {sim.ready_seconds:.1f} s", file=sys.stderr)
        measure(10, args.workers, args.probe_timeout)  # warm the simulator's code paths
        scaling = {}
        for n in sizes:
            runs = [measure(n, args.workers, args.probe_timeout) for _ in range(repeats)]
            for r in runs:
                print(f"{n:4d} cameras: found {r['found']}, interrogated {r['interrogated']}"
                      f" in {r['seconds']:.2f} s", file=sys.stderr)
            scaling[str(n)] = statistics.median(r["seconds"] for r in runs)
        last = runs[-1]
    result = {**last, "seconds": scaling[str(args.cameras)], "scaling_s": scaling,
              "workers": args.workers, "mode": "unicast", "repeats": repeats,
              "target_s": 3.0, "ok": scaling[str(args.cameras)] < 3.0}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
