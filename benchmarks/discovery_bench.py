"""Discovery benchmark: probe and fully interrogate 10, 50 and 100 simulated cameras.

The simulator runs as a subprocess on a private loopback range (127.0.57.x) and free ports.
Default mode is unicast (directed WS-Discovery probes; the listen window ends once every
target answered). `--multicast` re-runs this script inside a private network namespace
(`unshare -n`) and probes by multicast on `lo`, where the full listen window is always
waited out. Each measurement starts from a cold adapter (WSDLs parsed again) and ends when
every camera's interrogation has finished. The last line printed is one JSON object.

    python benchmarks/discovery_bench.py [--quick] [--multicast] [--cameras 100] [--workers 16]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camerahub.discovery.plan import ScanPlan, SitePlan  # noqa: E402
from camerahub.discovery.scan import Scan  # noqa: E402
from camerahub.onvif import Login, OnvifClient  # noqa: E402
from simulator.testing import running_process  # noqa: E402

SUBNET = 57  # 127.0.57.x: this benchmark's own range
NETNS_SETUP = ("ip link set lo up; ip link set lo multicast on; "
               "ip route add 224.0.0.0/4 dev lo; exec \"$@\"")


def measure(count: int, args: argparse.Namespace) -> dict:
    """One cold discovery of `count` cameras."""
    OnvifClient._documents.clear()  # cold start: parse the WSDLs inside the measurement
    if args.multicast:
        group = SitePlan("bench", interface="lo")
    else:
        group = SitePlan("bench", targets=tuple(f"127.0.{SUBNET}.{i}"
                                               for i in range(1, count + 1)))
    plan = ScanPlan((group,), probe_timeout=args.probe_timeout)
    login = Login("admin", "admin")
    started = time.perf_counter()
    client = OnvifClient(timeout=10, max_workers=args.workers)
    try:
        sightings = Scan(plan, [], client, lambda _cam: login).run()
    finally:
        client.close()
    seconds = time.perf_counter() - started
    complete = [s for s in sightings if s.report is not None and s.report.info.serial
                and len(s.report.profiles) == 2 and all(p.stream_uri for p in s.report.profiles)]
    return {"cameras": count, "found": len(sightings), "interrogated": len(complete),
            "seconds": round(seconds, 3)}


def simulator(count: int, multicast: bool):
    """A simulator with `count` cameras, all on 127.0.57.x."""
    extra = ["--interface", "lo"] if multicast else []
    return running_process("--cameras", str(count), "--hq", str(count), "--control-port",
                           "off", *extra, subnet=SUBNET)


def series(args: argparse.Namespace) -> dict:
    """Median seconds per size; unicast probes subsets of one simulator, multicast needs one
    simulator per size (every camera on the link answers a multicast probe)."""
    repeats = 1 if args.quick else 3
    sizes = sorted({n for n in (10, 50, args.cameras) if n <= args.cameras})
    scaling, last = {}, {}
    with ExitStack() as stack:
        if not args.multicast:
            stack.enter_context(simulator(args.cameras, False))
        for n in sizes:
            if args.multicast:
                stack.close()
                stack.enter_context(simulator(n, True))
            measure(min(n, 10), args)  # warm the simulator's code paths
            runs = [measure(n, args) for _ in range(repeats)]
            for r in runs:
                print(f"{n:4d} cameras: found {r['found']}, interrogated {r['interrogated']}"
                      f" in {r['seconds']:.2f} s", file=sys.stderr)
            scaling[str(n)] = statistics.median(r["seconds"] for r in runs)
            last = runs[-1]
    mode = "multicast" if args.multicast else "unicast"
    return {**last, "seconds": scaling[str(args.cameras)], "scaling_s": scaling,
            "workers": args.workers, "mode": mode, "probe_timeout_s": args.probe_timeout,
            "repeats": repeats, "target_s": 3.0, "ok": scaling[str(args.cameras)] < 3.0}


def in_namespace(argv: list[str]) -> int:
    """Re-run this script inside a private network namespace; multicast stays in there."""
    env = {**os.environ, "DISCOVERY_BENCH_NETNS": "1"}
    cmd = ["unshare", "-n", "sh", "-c", NETNS_SETUP, "sh", sys.executable, __file__, *argv]
    return subprocess.run(cmd, env=env).returncode


def main() -> int:
    """Run the scaling series and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one run per size (under 60 s)")
    ap.add_argument("--multicast", action="store_true",
                    help="multicast on lo inside a private network namespace (needs root)")
    ap.add_argument("--cameras", type=int, default=100)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--probe-timeout", type=float, default=2.0,
                    help="listen window in seconds (default 2)")
    args = ap.parse_args()
    if args.multicast and not os.environ.get("DISCOVERY_BENCH_NETNS"):
        return in_namespace(sys.argv[1:])
    print(json.dumps(series(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
