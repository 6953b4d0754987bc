"""Rollout benchmark: plan and apply the Nakano example's device settings on 100 cameras.

The simulator runs as a subprocess on a private loopback range (127.0.97.x HQ, 127.0.98.x
facilities) and free ports. `plan_seconds` is a cold plan (WSDLs parsed inside): read every
camera's encoders, options, NTP, time zone and hostname and compare. `apply_seconds` ends
when every camera has been changed and its settings read back and verified. The simulator
then re-encodes the changed loops in niced worker processes; `stream_settle_seconds` is how
long after apply its RTSP streams lag behind (the simulator's cost, not camerahub's; cached
loops make it near zero on later runs). Full mode repeats apply with the main GOP toggled
(30 <-> 60) and reports medians. The last line printed is one JSON object.

    python benchmarks/rollout_bench.py [--quick] [--workers 16] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from camerahub.config import parse_config  # noqa: E402
from camerahub.deploy.devices import DeviceRollout  # noqa: E402
from camerahub.onvif import OnvifClient  # noqa: E402
from simulator.testing import running_process  # noqa: E402

SUBNET = 97  # 127.0.97.x / 127.0.98.x: this benchmark's own ranges
NAKANO = Path(__file__).resolve().parents[1] / "deploy" / "examples" / "nakano.yaml"
PASSWORD = "bench-pass"  # noqa: S105 - the simulator's throwaway password
ENV = "CAMERAHUB_BENCH_CAMERA_PASSWORD"


def config_text(port: int, gop: int) -> str:
    """The Nakano example on the simulator's addresses, with the main GOP given."""
    data = yaml.safe_load(NAKANO.read_text(encoding="utf-8"))
    data["defaults"]["port"] = port
    data["credentials"][0]["password_env"] = ENV
    for cam in data["cameras"]:
        cam["address"] = (cam["address"].replace("127.0.1.", f"127.0.{SUBNET}.")
                          .replace("127.0.2.", f"127.0.{SUBNET + 1}."))
    data["devices"]["defaults"]["encoders"]["main"]["gop"] = gop
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def run(port: int, gop: int, apply: bool, workers: int) -> tuple[float, dict]:
    """One plan or apply from a cold client; (seconds, counts per status)."""
    OnvifClient._documents.clear()  # cold: WSDL parsing is part of the measurement
    cfg = parse_config(config_text(port, gop), "bench.yaml")
    started = time.perf_counter()
    rollout = DeviceRollout(cfg, workers=workers, timeout=30)
    try:
        result = rollout.run(apply)
    finally:
        rollout.close()
    seconds = time.perf_counter() - started
    failures = [f"{o.camera_id}: {o.error}" for o in result.outcomes if o.error]
    if failures:
        print("failures:", *failures[:5], sep="\n  ", file=sys.stderr)
    return seconds, result.summary()


def settle(control: str, timeout: float) -> float | None:
    """Seconds until no camera is still re-encoding its stream, or None on timeout."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        cams = httpx.get(f"{control}/cameras", timeout=30).json()
        if not any(c["reencoding"] for c in cams):
            return round(time.perf_counter() - started, 3)
        time.sleep(0.5)
    return None


def main() -> int:
    """Run the benchmark and print the JSON summary last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one plan and one apply")
    parser.add_argument("--workers", type=int, default=16, help="cameras at once")
    parser.add_argument("--repeats", type=int, default=3, help="applies in full mode")
    args = parser.parse_args()
    os.environ[ENV] = PASSWORD
    repeats = 1 if args.quick else args.repeats
    sim_args = ("--cameras", "100", "--hq", "55", "--password", PASSWORD)
    with running_process(*sim_args, subnet=SUBNET) as (_proc, kw):
        port, control = kw["port"], f"http://127.0.0.1:{kw['control_port']}"
        # start from the simulator's own settings: the plan then sees 100 cameras to change
        plan_s, plan_counts = run(port, 30, apply=False, workers=args.workers)
        print(f"plan: {plan_s:.2f} s {plan_counts}", file=sys.stderr)
        applies, failed, settles, changed = [], 0, [], 0
        for i in range(repeats):
            gop = 30 if i % 2 == 0 else 60
            seconds, counts = run(port, gop, apply=True, workers=args.workers)
            lag = settle(control, 60 if args.quick else 300)
            print(f"apply gop={gop}: {seconds:.2f} s {counts}; streams settled after "
                  f"{lag} s", file=sys.stderr)
            applies.append(seconds)
            failed = max(failed, counts["failed"] + counts["invalid"])
            changed = counts["applied"]
            settles.append(lag)
        replan_s, replan_counts = run(port, 30 if repeats % 2 else 60, False, args.workers)
    print(json.dumps({
        "cameras": 100, "workers": args.workers, "plan_seconds": round(plan_s, 3),
        "plan_changes": plan_counts["change"],
        "apply_seconds": round(statistics.median(applies), 3),
        "apply_runs": [round(a, 3) for a in applies], "applied": changed, "failed": failed,
        "replan_seconds": round(replan_s, 3), "replan_unchanged": replan_counts["unchanged"],
        "stream_settle_seconds": settles, "target_seconds": 10,
    }))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
