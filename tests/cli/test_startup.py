"""`camerahub --help` and every verb's --help load no heavy library (start-up stays fast).

Timing is measured in benchmarks/cli_startup_bench.py; this checks the cause, not the clock:
which modules a fresh interpreter has imported after parsing the command line.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "alembic", "pydantic", "zeep", "boto3", "botocore", "av", "cv2",
         "numpy", "fastapi", "uvicorn", "casbin", "cryptography", "httpx", "yaml", "fpdf")
ARGVS = [["--help"], ["deploy", "plan", "--help"], ["deploy", "apply", "--help"],
         ["cameras", "--help"], ["discover", "--help"], ["record", "--help"],
         ["index", "rebuild", "--help"], ["retention", "sweep", "--help"], ["export", "--help"],
         ["export", "verify", "--help"], ["demo", "--help"], ["user", "set-password", "--help"],
         ["apikey", "create", "--help"], ["audit", "verify", "--help"],
         ["report", "viewing", "--help"], ["serve", "--help"]]

PROBE = """
import json, sys
from camerahub.cli import build_parser
try:
    build_parser().parse_args(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


@pytest.mark.parametrize("argv", ARGVS, ids=[" ".join(a) for a in ARGVS])
def test_help_imports_no_heavy_library(argv):
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True,
                          timeout=60, check=True)
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_console_script_prints_every_verb():
    done = subprocess.run([sys.executable, "-m", "camerahub", "--help"], capture_output=True,
                          text=True, timeout=60, check=True)
    for verb in ("deploy", "cameras", "discover", "record", "index", "retention", "export",
                 "demo", "user", "apikey", "audit", "serve"):
        assert verb in done.stdout
