"""The chain's head is anchored outside the database by itself, and `audit verify` uses the
newest anchor without being told where it is: a deleted tail, a rewritten chain (even one
whose hashes were all recomputed) and a rewritten anchored entry are found."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml
from sqlalchemy import select, text

from camerahub import audit
from camerahub.audit.log import CHAINED_FIELDS, entry_hash
from camerahub.cli import main
from camerahub.composition import anchor_sinks, open_store
from camerahub.config import parse_config, resolve_runtime
from camerahub.db import models as m
from camerahub.db.engine import open_database
from camerahub.jobs import AuditAnchoring, StoreAnchors, latest_of

MINIMAL = "deploy/examples/minimal.yaml"


@pytest.fixture
def env(tmp_path, monkeypatch, capsys):
    """A deployment whose data directory holds the anchor log and a FileStore."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    data = yaml.safe_load((root / MINIMAL).read_text(encoding="utf-8"))
    data["data_dir"] = str(tmp_path / "data")
    data["storage"] = {"backend": "file"}
    data["audit"] = {"anchor_interval_s": 10}
    path = tmp_path / "camerahub.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("CAMERAHUB_CONFIG", str(path))
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'db.sqlite'}")
    monkeypatch.delenv("CAMERAHUB_DATA_DIR", raising=False)
    cfg = parse_config(path.read_text(encoding="utf-8"), str(path))
    runtime = resolve_runtime(cfg, path)
    _, sessions = open_database(runtime.database_url)
    store = open_store(cfg, runtime)

    def add(n: int) -> None:
        with sessions.begin() as s:
            for i in range(n):
                audit.append(s, actor=f"user:user-{i}", action="playback", decision="allow",
                             camera_id="cam", reason="点検",
                             footage_start=datetime(2026, 11, 20, 1, tzinfo=UTC))

    def verify(*extra: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["audit", "verify", *extra])
        return code, capsys.readouterr().err

    job = AuditAnchoring(sessions, anchor_sinks(cfg, runtime, store), 10)
    return {"sessions": sessions, "add": add, "verify": verify, "job": job, "store": store,
            "cfg": cfg, "runtime": runtime}


def _sql(sessions, statement: str, **params) -> None:
    with sessions.begin() as s:
        s.execute(text(statement), params)


def test_each_round_anchors_the_new_head_in_the_log_and_the_store(env):
    env["add"](5)
    assert env["job"].run_once().ok
    env["add"](3)
    env["job"].run_once()
    env["job"].run_once()  # nothing new: no new anchor
    sinks = anchor_sinks(env["cfg"], env["runtime"], env["store"])
    log, store = sinks
    assert log.latest().seq == 8 and store.latest().seq == 8
    assert len(log.path.read_text().splitlines()) == 2
    assert len(list(env["store"].iter_keys("_camerahub/audit-anchors/"))) == 2


def test_verify_finds_a_deleted_tail_by_itself(env):
    env["add"](6)
    env["job"].run_once()
    _sql(env["sessions"], "DELETE FROM audit_entries WHERE seq > 4")
    code, err = env["verify"]()
    assert code == 1 and "truncated" in err


def test_verify_finds_a_chain_rewritten_with_fresh_hashes(env):
    env["add"](6)
    env["job"].run_once()
    _rewrite_everything(env["sessions"], reason="異常なし")
    assert env["verify"]("--anchor", "/nonexistent/none.jsonl")[0] == 0  # fools the chain
    code, err = env["verify"]()
    assert code == 1 and "rewritten" in err


def test_the_store_anchor_survives_the_local_log(env):
    env["add"](4)
    env["job"].run_once()
    sinks = anchor_sinks(env["cfg"], env["runtime"], env["store"])
    sinks[0].path.unlink()  # the administrator removes the local log too
    _sql(env["sessions"], "DELETE FROM audit_entries WHERE seq > 2")
    code, err = env["verify"]()
    assert code == 1 and "truncated" in err


def test_the_job_reports_a_break_once_as_an_event(env):
    env["add"](5)
    env["job"].run_once()
    _sql(env["sessions"], "UPDATE audit_entries SET hash = :h WHERE seq = 5", h="e" * 64)
    assert not env["job"].run_once().ok
    env["job"].run_once()
    with env["sessions"]() as s:
        events = s.scalars(select(m.Event).where(m.Event.kind == "audit.chain_broken")).all()
    assert len(events) == 1 and events[0].severity == "high"


def test_stop_writes_the_shutdown_anchor(env):
    job = env["job"]
    job.start()
    env["add"](3)
    job.stop()
    assert latest_of(job.sinks).seq == 3


def test_anchors_are_held_where_the_store_has_object_lock():
    from camerahub.storage import S3Store
    from tests.support.s3 import MotoS3

    moto = MotoS3().start()
    try:
        _check_locked_anchor(S3Store(moto.settings(moto.new_bucket(object_lock=True))))
    finally:
        moto.stop()


def _check_locked_anchor(store) -> None:
    anchors = StoreAnchors(store)
    anchors.save(audit.Anchor(seq=7, hash="a" * 64, at="2026-12-02T00:00:00+00:00"))
    (key,) = list(store.iter_keys("_camerahub/audit-anchors/"))
    assert store.head(key).legal_hold is True
    assert anchors.latest().seq == 7


def _rewrite_everything(sessions, reason: str) -> None:
    """What a database administrator could do: change entries and recompute every hash."""
    with sessions.begin() as s:
        prev = "0" * 64
        for row in s.scalars(select(m.AuditEntry).order_by(m.AuditEntry.seq)):
            row.reason = reason
            fields = {k: getattr(row, k) for k in CHAINED_FIELDS}
            row.prev_hash, row.hash = prev, entry_hash(fields, prev)
            prev = row.hash
