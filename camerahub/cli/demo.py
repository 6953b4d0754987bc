"""`camerahub demo`: the whole product on embedded defaults, on loopback only.

See `demo_story` for the steps; this module only declares the verb, so that `camerahub --help`
does not import what the demo runs.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "nakano.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the demo verb."""
    p = sub.add_parser("demo", help="run the whole product on simulated cameras (loopback)")
    p.add_argument("--data-dir", type=Path, default=Path("var/demo"),
                   help="where the demo keeps its data (kept between runs)")
    p.add_argument("--fresh", action="store_true",
                   help="delete the previous run's data first (footage, incidents, audit)")
    p.add_argument("--keep-hours", type=float, default=1.0,
                   help="hours of unheld footage kept (default 1: the demo records about "
                        "10-20 GB an hour)")
    p.add_argument("--file", type=Path, default=EXAMPLE, help="deployment file")
    p.add_argument("--port", type=int, default=8000, help="API and web UI port on 127.0.0.1")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo story, then keep recording and serving until Ctrl-C or --duration."""
    from .demo_story import Demo, say

    demo = Demo(args)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    try:
        demo.prepare()
        demo.cli_hint()
        demo.simulator()
        demo.deploy()
        demo.discover()
        key = demo.accounts()
        demo.record()
        demo.serve()
        demo.wait_for_footage()
        demo.disk_use()
        demo.story(key)
        demo.audit()
        demo.sign_in_hint()
        say("Recording continues; press Ctrl-C to stop (the data stay for the next run; "
            "`make demo-reset` starts afresh).")
        done.wait(args.duration)
    finally:
        say("== stopping")
        demo.stop()
    return 0
