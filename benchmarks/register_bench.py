"""The monthly viewing register: how long verifying the trail and rendering take.

python benchmarks/register_bench.py [--quick] [--entries N]

The example deployment (deploy/examples/nakano.yaml) in a temporary SQLite database; N
footage entries (live, playback, snapshot, export over all cameras and several users) are
appended with the real audit code through one month, plus one disposal entry per camera
and day. Figures (last line, one JSON object):
  entries            footage entries in the month (register rows)
  build_s            audit.verify over the whole chain + the register's query and rows
  csv_s              CSV rendering
  pdf_s, pdf_pages   PDF rendering (fpdf2, IPAex Gothic embedded) and its page count
  pdf_kb             size of the PDF
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camerahub import audit  # noqa: E402
from camerahub.audit import log as audit_log  # noqa: E402
from camerahub.audit import register  # noqa: E402
from camerahub.audit.register_pdf import render  # noqa: E402
from camerahub.config import load_config  # noqa: E402
from camerahub.db.engine import inventory_write, open_database  # noqa: E402
from camerahub.deploy import apply_plan, plan_changes  # noqa: E402

EXAMPLE = ROOT / "deploy" / "examples" / "nakano.yaml"
TOKYO = ZoneInfo("Asia/Tokyo")
USERS = [("user:kiki-sato", "crisis-management"), ("user:tokatsu-koseki", "division-manager"),
         ("user:bucho-kumin", "department-head"), ("user:tokatsu-zeimu", "division-manager")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="2,000 entries")
    parser.add_argument("--entries", type=int, default=20_000)
    args = parser.parse_args()
    n = 2_000 if args.quick else args.entries
    cfg = load_config(EXAMPLE)
    cameras = [c.id for c in cfg.cameras]
    rng = random.Random(18)
    with tempfile.TemporaryDirectory() as tmp:
        _, sessions = open_database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        with inventory_write(sessions) as s:
            apply_plan(s, plan_changes(s, cfg), EXAMPLE.read_text(), str(EXAMPLE))
        start = datetime(2026, 11, 1, tzinfo=TOKYO).astimezone(UTC)
        step = timedelta(days=30) / n
        now = [start]
        audit_log.utcnow = lambda: now[0]
        with sessions.begin() as s:
            for i in range(n):
                now[0] = start + step * i
                actor, role = rng.choice(USERS)
                action = rng.choice(("playback", "playback", "live", "snapshot", "export"))
                audit.append(s, actor=actor, role=role, action=action,
                             decision=rng.choice(("allow", "allow", "allow", "deny", "fail")),
                             camera_id=rng.choice(cameras), footage_start=now[0] - step,
                             footage_end=now[0], reason="窓口の苦情確認",
                             detail={"status": 200})
            for day in range(30):
                now[0] = start + timedelta(days=day, hours=3)
                for cam in cameras:
                    gone = now[0] - timedelta(days=31)
                    audit.append(s, actor="system:retention", action="retention.delete",
                                 camera_id=cam, footage_start=gone,
                                 footage_end=gone + timedelta(days=1),
                                 reason="retention 30 days",
                                 detail={"day": gone.astimezone(TOKYO).date().isoformat(),
                                         "segments": 8640, "bytes": 8640 * 1_500_000})
        with sessions() as s:
            t0 = time.perf_counter()
            reg = register.build(s, "2026-11", TOKYO)
            build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        register.csv_text(reg)
        csv_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pdf = render(reg)
        pdf_s = time.perf_counter() - t0
    pages = pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")
    figures = {"entries": reg.access_count(), "disposal_rows": len(reg.disposals),
               "build_s": round(build_s, 2), "csv_s": round(csv_s, 2),
               "pdf_s": round(pdf_s, 2), "pdf_pages": pages, "pdf_kb": len(pdf) // 1024}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
