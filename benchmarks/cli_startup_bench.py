"""CLI start-up: `camerahub --help` and each verb's --help, against a bare interpreter.

Each command runs as a whole process, alternated with the reference (`python -c pass`, what
no Python command can beat) and with `python -c "import camerahub.config"`-style imports of
the heavy layers, so the figures say how much of start-up is ours. Target: every --help
under 0.4 s. The last line printed is one JSON object.

    python benchmarks/cli_startup_bench.py [--quick] [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "reference_python": [sys.executable, "-c", "pass"],
    "help": [sys.executable, "-m", "camerahub", "--help"],
    "deploy_plan_help": [sys.executable, "-m", "camerahub", "deploy", "plan", "--help"],
    "record_help": [sys.executable, "-m", "camerahub", "record", "--help"],
    "serve_help": [sys.executable, "-m", "camerahub", "serve", "--help"],
    "demo_help": [sys.executable, "-m", "camerahub", "demo", "--help"],
    "import_all_layers": [sys.executable, "-c", "import camerahub.composition"],
}


def run_once(argv: list[str]) -> float:
    """Wall seconds of one whole process."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    """Alternate the commands `runs` times; report each one's median and max."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    parser.add_argument("--runs", type=int)
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 15)
    for argv in COMMANDS.values():  # warm the page cache and .pyc files
        run_once(argv)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            times[name].append(run_once(argv))
    result: dict[str, object] = {"runs": runs}
    for name, values in times.items():
        result[f"{name}_median_s"] = round(statistics.median(values), 3)
        result[f"{name}_max_s"] = round(max(values), 3)
    helps = [k for k in COMMANDS if k.endswith("help")]
    result["slowest_help_median_s"] = max(result[f"{k}_median_s"] for k in helps)
    result["target_s"] = 0.4
    result["meets_target"] = result["slowest_help_median_s"] < 0.4
    for name in COMMANDS:
        print(f"{name:20s} median {result[f'{name}_median_s']:.3f} s  "
              f"max {result[f'{name}_max_s']:.3f} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
