"""Access-control speed: casbin decisions per second and filtering the list of 100 cameras.

python benchmarks/authz_bench.py [--quick]

The example deployment (deploy/examples/nakano.yaml) is applied into a temporary SQLite
database with the real deploy code; the policy is then generated from that inventory as the
API does. Figures (last line, one JSON object):
  decisions_per_s        Authorizer.allowed(), the path the API takes: per-user permissions
                         expanded from casbin once per policy version, then set lookups.
                         Measured on a fresh Authorizer, so the expansions are included.
  casbin_enforce_per_s   raw casbin Enforcer.enforce() on the same requests (no cache).
  decide_per_s           the full footage decision (policy, visibility, grants query for
                         cameras outside the caller's area) with a SQLite session.
  filter_list_ms         visible cameras of a division manager out of 100 (warm, median).
  filter_list_cold_ms    the same right after a policy reload (includes the expansion).
  list_endpoint_ms       GET /api/v1/cameras through the real app (median, TestClient).
  policy_build_ms        inventory read + enforcer build for one deployment.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camerahub import audit  # noqa: E402
from camerahub.audit import actors  # noqa: E402
from camerahub.authz.accounts import Principal  # noqa: E402
from camerahub.authz.authorizer import Authorizer  # noqa: E402
from camerahub.authz.decision import FootageRequest, decide  # noqa: E402
from camerahub.authz.policy import ACTIONS, FOOTAGE_ACTIONS  # noqa: E402
from camerahub.authz.store import load_inventory  # noqa: E402
from camerahub.config import load_config  # noqa: E402
from camerahub.db.engine import inventory_write, open_database  # noqa: E402
from camerahub.deploy import apply_plan, plan_changes  # noqa: E402

EXAMPLE = ROOT / "deploy" / "examples" / "nakano.yaml"
MANAGER = "tokatsu-koseki"


def deploy(url: str):
    """Apply the example with the real deploy code; return config and session factory."""
    cfg = load_config(EXAMPLE)
    _, sessions = open_database(url)
    with inventory_write(sessions) as session:
        dep = apply_plan(session, plan_changes(session, cfg), EXAMPLE.read_text(), str(EXAMPLE))
        audit.append(session, actor=actors.actor(actors.SYSTEM, "bench"),
                     action="deploy.apply", decision="allow",
                     detail={"config_sha256": dep.config_sha256})
    return cfg, sessions


def requests(cfg, n: int, seed: int = 7) -> list[tuple[str, str, str]]:
    """n random (user, camera-or-all, action) triples over every user, camera and action."""
    rng = random.Random(seed)
    users = [u.id for u in cfg.users]
    objects = [c.id for c in cfg.cameras] + ["all"]
    return [(rng.choice(users), rng.choice(objects), rng.choice(ACTIONS)) for _ in range(n)]


def rate(fn, items) -> float:
    """Calls per second of fn over items."""
    start = time.perf_counter()
    for item in items:
        fn(*item)
    return len(items) / (time.perf_counter() - start)


def median_ms(fn, repeat: int) -> float:
    """Median wall time of fn in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def build(sessions, cfg) -> tuple[Authorizer, float]:
    """A fresh Authorizer from the database and the time it took."""
    start = time.perf_counter()
    with sessions() as session:
        authz = Authorizer(load_inventory(session, cfg.access))
    return authz, (time.perf_counter() - start) * 1000


def cold_filter_ms(sessions, cfg) -> float:
    """The first camera-list filter after a policy reload (expansion from casbin included)."""
    authz, _ = build(sessions, cfg)
    return median_ms(lambda: authz.visible_cameras(MANAGER), 1)


def bench_decide(sessions, cfg, authz: Authorizer, n: int) -> float:
    """Full footage decisions for managers, half inside and half outside their area."""
    rng = random.Random(3)
    managers = [u for u in cfg.users if u.scope]
    cams = [c.id for c in cfg.cameras]
    with sessions() as session:
        def one(_i):
            user = rng.choice(managers)
            who = Principal("user", user.id, user.role, user.scope)
            req = FootageRequest(rng.choice(FOOTAGE_ACTIONS), rng.choice(cams), reason="点検")
            decide(authz, session, who, req, 4)
        return rate(one, [(i,) for i in range(n)])


def bench_endpoint(url: str, cfg, repeat: int, data_dir: Path) -> float:
    """Median GET /api/v1/cameras for the division manager through the real app."""
    from datetime import UTC, datetime, timedelta

    from fastapi.testclient import TestClient

    from camerahub.api import Settings, create_app
    from camerahub.authz.tokens import issue_token
    from camerahub.composition import build_services
    from camerahub.config import Runtime

    secret = secrets.token_urlsafe(48)
    services = build_services(cfg, Runtime(EXAMPLE, data_dir, url))
    app = create_app(Settings(config=cfg, secret_key=secret), services)
    token = issue_token(secret, MANAGER, 0, datetime.now(UTC), timedelta(minutes=15))
    client = TestClient(app)
    headers = {"Authorization": f"Bearer {token}"}
    assert len(client.get("/api/v1/cameras", headers=headers).json()) == 20
    return median_ms(lambda: client.get("/api/v1/cameras", headers=headers), repeat)


def main() -> int:
    """Run the benchmark; print a readable report, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, under a minute")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    n_fast, n_casbin, n_decide, repeat = ((200_000, 3_000, 5_000, 50) if args.quick
                                          else (1_000_000, 20_000, 20_000, 200))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        cfg, sessions = deploy(url)
        authz, build_ms = build(sessions, cfg)
        work = requests(cfg, n_fast)
        fast = rate(authz.allowed, work)
        slow = rate(authz.enforce, work[:n_casbin])
        cold = statistics.median(cold_filter_ms(sessions, cfg) for _ in range(5))
        warm = median_ms(lambda: authz.visible_cameras(MANAGER), repeat * 10)
        dec = bench_decide(sessions, cfg, authz, n_decide)
        endpoint = bench_endpoint(url, cfg, repeat, Path(tmp))
    result = {"decisions_per_s": round(fast), "casbin_enforce_per_s": round(slow),
              "decide_per_s": round(dec), "filter_list_ms": round(warm, 4),
              "filter_list_cold_ms": round(cold, 3),
              "list_endpoint_ms": round(endpoint, 2), "policy_build_ms": round(build_ms, 1),
              "cameras": len(cfg.cameras), "users": len(cfg.users), "quick": args.quick}
    print(f"decisions/s (cached per policy version): {result['decisions_per_s']:,}")
    print(f"raw casbin enforce/s:                    {result['casbin_enforce_per_s']:,}")
    print(f"full footage decisions/s (with DB):      {result['decide_per_s']:,}")
    print(f"filter 100 cameras for {MANAGER}: {result['filter_list_ms']} ms warm, "
          f"{result['filter_list_cold_ms']} ms cold; GET /cameras {endpoint:.2f} ms")
    print(json.dumps(result))
    ok = result["decisions_per_s"] > 20_000 and result["filter_list_ms"] < 5
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
