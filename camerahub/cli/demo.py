"""`camerahub demo`: everything that exists so far, on embedded defaults."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from . import cameras, deploy

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "examples" / "nakano.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the demo verb."""
    p = sub.add_parser("demo", help="run the demo on embedded defaults")
    p.add_argument("--data-dir", default="var/demo", help="where the demo keeps its data")
    p.add_argument("--file", type=Path, default=EXAMPLE, help="deployment file to demonstrate")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Deploy the example into a local SQLite database, then list the inventory."""
    os.environ.setdefault("CAMERAHUB_DATA_DIR", args.data_dir)
    os.environ.setdefault("CAMERAHUB_DATABASE_URL",
                          f"sqlite:///{Path(args.data_dir).resolve() / 'camerahub.db'}")
    print(f"== camerahub demo: deploying {args.file}")
    base = argparse.Namespace(file=args.file, prune=False, json=False, config=None)
    deploy.run_plan(base)
    deploy.run_apply(base)
    print("== second apply (idempotent)")
    deploy.run_apply(base)
    print("== inventory")
    return cameras.run(argparse.Namespace(json=False, config=str(args.file)))
