"""Playback latency on a month-sized index: `recordings`, first byte of `clip.mp4`, the 24 h
`timeline` of one camera and `thumbnail.jpg`.

Builds an index of DAYS x CAMERAS of 10 s segments on PostgreSQL (127.0.0.1:5432, database
`test`, its own schema, dropped afterwards), serves the real API with uvicorn on loopback,
and asks, for random camera-hours: GET /recordings (p50/p99) and GET /clip.mp4 until the
first byte (p50/p99), GET /timeline of the 24 hours from that hour (p50/p99, the figure the
timeline view must keep under 200 ms) and GET /thumbnail.jpg of a moment in the hour's first
segment (p50/p99; each moment once, so decoded every time, never from the cache). The first
segment of every sampled hour is a real H.264 segment in a
FileStore (the rest of the hour is never fetched before the first byte). The reference in
the same run is what the index replaces: listing the store for the same hour.

    python benchmarks/playback_bench.py            # 30 days x 100 cameras = 25.9 M rows
    python benchmarks/playback_bench.py --quick    # 1 day x 100 cameras = 864 k rows

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import uvicorn
import yaml
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camerahub.api import Settings, create_app  # noqa: E402
from camerahub.authz import accounts  # noqa: E402
from camerahub.authz.passwords import HashParams, Passwords  # noqa: E402
from camerahub.cli.serve import freeze_startup_heap  # noqa: E402
from camerahub.composition import Tuning, build_services  # noqa: E402
from camerahub.config import Runtime, parse_config  # noqa: E402
from camerahub.db.engine import inventory_write, open_database  # noqa: E402
from camerahub.deploy import apply_plan, plan_changes  # noqa: E402
from camerahub.storage import FileStore, segment_key  # noqa: E402
from simulator.testing import free_port  # noqa: E402
from tests.support.media import encode, segments  # noqa: E402

PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
START = datetime(2026, 10, 1, tzinfo=UTC)
PASSWORD = "Bench-Pass-2026!"
DAY = timedelta(hours=24)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def config(cameras: int, store_dir: Path) -> dict:
    return {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"}],
        "org": {"departments": [{"id": "d", "name": "部", "divisions": [
            {"id": "v", "name": "分野", "rooms": [{"id": "r", "name": "室", "site": "hq"}]}]}]},
        "cameras": [{"id": f"cam-{i:03d}", "name": f"カメラ{i}", "site": "hq", "room": "r",
                     "address": f"127.0.250.{i}"} for i in range(1, cameras + 1)],
        "users": [{"id": "kiki", "name": "危機管理", "role": "crisis-management"}],
        "storage": {"backend": "file", "file": {"path": str(store_dir)}},
        "retention": {"default_days": 3650},
    }


def fill_index(url: str, cameras: int, days: int) -> int:
    """Bulk-insert DAYS x CAMERAS of 10 s segment rows with one SQL statement per camera."""
    engine = create_engine(url)
    per_cam = days * 8640
    stmt = text("""
        INSERT INTO segments (camera_id, site_id, start, "end", duration_ms, bytes, sha256,
                              key, state, held, stored_at)
        SELECT :cam, 'hq', :t0 + g * interval '10 seconds',
               :t0 + (g + 1) * interval '10 seconds', 10000, 2500000, repeat('0', 64),
               'hq/' || :cam || '/' || to_char(:t0 + g * interval '10 seconds',
                                                'YYYY/MM/DD/HH24/YYYYMMDD"T"HH24MISS".000Z"')
                   || '_10000.ts',
               'stored', false, :t0 + (g + 1) * interval '10 seconds'
        FROM generate_series(0, :n - 1) AS g""")
    for i in range(1, cameras + 1):
        with engine.begin() as conn:
            conn.execute(stmt, {"cam": f"cam-{i:03d}", "t0": START, "n": per_cam})
        if i % 10 == 0:
            log(f"  index: {i}/{cameras} cameras")
    with engine.begin() as conn:
        conn.execute(text("ANALYZE segments"))
    engine.dispose()
    return per_cam * cameras


def real_first_segments(url: str, store: FileStore, samples: list[tuple[str, datetime]],
                        work: Path) -> None:
    """Point each sampled hour's first row at a real segment stored under its key."""
    src = encode(work / "src.ts", 12)
    info = segments(src, work / "spool", "cam-001", "hq", START, seconds=10)[0]
    engine = create_engine(url)
    with engine.begin() as conn:
        for cam, hour in samples:
            key = segment_key("hq", cam, hour, 10000, "ts")
            store.put(key, info.path, info.sha256)
            conn.execute(text("UPDATE segments SET sha256 = :sha, bytes = :n WHERE key = :k"),
                         {"sha": info.sha256, "n": info.bytes, "k": key})
    engine.dispose()


def serve(app) -> tuple[uvicorn.Server, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def measure(base: str, token: str, samples: list[tuple[str, datetime]],
            store: FileStore) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    rec, first, listing, line, thumbs = [], [], [], [], []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        for cam, hour in samples[:5]:  # warm-up: policy build, connection pool, imports
            client.get(f"/api/v1/cameras/{cam}/recordings?start={quote(hour.isoformat())}"
                       f"&end={quote((hour + timedelta(minutes=1)).isoformat())}")
        for cam, hour in samples:
            end = hour + timedelta(hours=1)
            q = f"start={quote(hour.isoformat())}&end={quote(end.isoformat())}"
            t0 = time.perf_counter()
            resp = client.get(f"/api/v1/cameras/{cam}/recordings?{q}")
            rec.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200 and len(resp.json()["segments"]) == 360, resp.text
            t0 = time.perf_counter()
            with client.stream("GET", f"/api/v1/cameras/{cam}/clip.mp4?{q}") as stream:
                assert stream.status_code == 200
                next(stream.iter_raw())
                first.append((time.perf_counter() - t0) * 1000)
            day = f"start={quote(hour.isoformat())}&end={quote((hour + DAY).isoformat())}"
            t0 = time.perf_counter()
            resp = client.get(f"/api/v1/cameras/{cam}/timeline?{day}")
            line.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200 and resp.json()["spans"], resp.text
            at = hour + timedelta(milliseconds=1000 + len(thumbs) * 37 % 8000)
            t0 = time.perf_counter()
            resp = client.get(f"/api/v1/cameras/{cam}/thumbnail.jpg?at={quote(at.isoformat())}")
            thumbs.append((time.perf_counter() - t0) * 1000)
            assert resp.status_code == 200, resp.text
            t0 = time.perf_counter()
            keys = list(store.iter_keys(f"hq/{cam}/{hour:%Y/%m/%d/%H}/"))
            listing.append((time.perf_counter() - t0) * 1000)
            assert keys
    return {"recordings_p50_ms": pct(rec, 0.5), "recordings_p99_ms": pct(rec, 0.99),
            "clip_first_byte_p50_ms": pct(first, 0.5),
            "clip_first_byte_p99_ms": pct(first, 0.99),
            "timeline_p50_ms": pct(line, 0.5), "timeline_p99_ms": pct(line, 0.99),
            "thumbnail_p50_ms": pct(thumbs, 0.5), "thumbnail_p99_ms": pct(thumbs, 0.99),
            "reference_store_listing_p50_ms": pct(listing, 0.5),
            "recordings_mean_ms": round(statistics.fmean(rec), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 day x 100 cameras")
    parser.add_argument("--days", type=int)
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    days = args.days or (1 if args.quick else 30)
    samples_n = 60 if args.quick else args.samples
    work = Path(tempfile.mkdtemp(prefix="playback-bench-"))
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG}?options=-csearch_path%3D{schema}"
    try:
        cfg = parse_config(yaml.safe_dump(config(args.cameras, work / "store"),
                                          allow_unicode=True), "bench.yaml")
        _, sessions = open_database(url)
        with inventory_write(sessions) as s:
            apply_plan(s, plan_changes(s, cfg), "x", "bench")
        cheap = HashParams(time_cost=1, memory_cost=8, parallelism=1)
        with sessions.begin() as s:
            accounts.set_password(s, Passwords(cheap), cfg.auth, "kiki", PASSWORD)
        log(f"filling the index: {days} days x {args.cameras} cameras")
        t0 = time.monotonic()
        rows = fill_index(url, args.cameras, days)
        fill_s = time.monotonic() - t0
        rng = random.Random(42)
        samples = [(f"cam-{rng.randint(1, args.cameras):03d}",
                    START + timedelta(hours=rng.randrange(days * 24)))
                   for _ in range(samples_n)]
        store = FileStore(work / "store")
        real_first_segments(url, store, samples, work)
        settings = Settings(config=cfg, secret_key=secrets.token_urlsafe(48))
        services = build_services(cfg, Runtime(work / "bench.yaml", work, url),
                                  Tuning(password_hashing=cheap))
        app = create_app(settings, services)
        freeze_startup_heap()  # as `camerahub serve` does
        server, base = serve(app)
        try:
            token = httpx.post(f"{base}/api/v1/auth/token",
                               data={"username": "kiki", "password": PASSWORD}).json()
            figures = measure(base, token["access_token"], samples, store)
        finally:
            server.should_exit = True
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    print(json.dumps({"index_rows": rows, "database": "postgresql", "days": days,
                      "cameras": args.cameras, "samples": samples_n,
                      "index_fill_s": round(fill_s, 1), **figures}))


if __name__ == "__main__":
    main()
