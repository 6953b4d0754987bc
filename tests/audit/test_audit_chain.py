"""Tampering with the audit table by raw SQL; the real `camerahub audit verify` names it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select, text

from camerahub import audit
from camerahub.audit.log import CHAINED_FIELDS
from camerahub.cli import main
from camerahub.db import models as m
from camerahub.db.engine import open_database

N = 12


@pytest.fixture
def chain(db_url, tmp_path, monkeypatch, capsys):
    """A database with N audit entries and a `verify` runner returning (code, out, err)."""
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", db_url)
    monkeypatch.setenv("CAMERAHUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAMERAHUB_CONFIG", str(tmp_path / "absent.yaml"))
    _, sessions = open_database(db_url)
    with sessions.begin() as s:
        for i in range(N):
            audit.append(s, actor=f"user:user-{i}", role="division-manager", action="playback",
                         decision="allow" if i % 3 else "deny", camera_id=f"cam-{i}",
                         footage_start=datetime(2026, 11, 20, 1, i, tzinfo=UTC),
                         footage_end=datetime(2026, 11, 20, 2, i, tzinfo=UTC),
                         reason="点検", client="127.0.0.1", detail={"n": i, "日本": "語"})
    engine = create_engine(db_url)

    def sql(statement: str, **params) -> None:
        with engine.begin() as conn:
            conn.execute(text(statement), params)

    def verify(*extra: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["audit", "verify", *extra])
        out = capsys.readouterr()
        return code, out.out, out.err

    yield sql, verify, tmp_path, sessions
    engine.dispose()


def test_intact_chain_verifies(chain):
    _, verify, _, _ = chain
    code, out, err = verify()
    assert code == 0 and f"intact: {N} entries" in out
    assert "no anchor found" in err  # said, so nobody mistakes "intact" for "anchored"


def test_edited_entry_is_named(chain):
    sql, verify, _, _ = chain
    sql("UPDATE audit_entries SET decision = 'allow' WHERE seq = 4")
    code, _, err = verify()
    assert code == 1 and "broken at entry 4:" in err and "edited" in err
    assert err.count("\n") == 1  # one line on stderr


def test_edited_reason_is_named(chain):
    sql, verify, _, _ = chain
    sql("UPDATE audit_entries SET reason = '私用' WHERE seq = 7")
    assert "broken at entry 7:" in verify()[2]


def test_edit_with_recomputed_hash_breaks_the_next_link(chain):
    sql, verify, _, sessions = chain
    _rehash_one(sql, sessions, 5)
    code, _, err = verify()
    assert code == 1 and "broken at entry 6:" in err and "link" in err


def _rehash_one(sql, sessions, seq: int) -> None:
    """Edit entry seq and store a matching hash for it (a careful forger)."""
    with sessions() as s:
        row = s.scalar(select(m.AuditEntry).where(m.AuditEntry.seq == seq))
        fields = {k: getattr(row, k) for k in CHAINED_FIELDS}
    fields["actor"] = "someone-else"
    sql("UPDATE audit_entries SET actor = 'someone-else', hash = :h WHERE seq = :s",
        h=audit.entry_hash(fields, row.prev_hash), s=seq)


def test_deleted_entry_is_named(chain):
    sql, verify, _, _ = chain
    sql("DELETE FROM audit_entries WHERE seq = 3")
    code, _, err = verify()
    assert code == 1 and "broken at entry 4:" in err and "jumps from 2 to 4" in err


def test_inserted_entry_is_named(chain):
    sql, verify, _, _ = chain
    sql("UPDATE audit_entries SET seq = seq + 100 WHERE seq > 6")
    sql("UPDATE audit_entries SET seq = seq - 99 WHERE seq > 100")
    sql("INSERT INTO audit_entries (seq, at, actor, role, action, decision, detail, prev_hash,"
        " hash) VALUES (7, :at, 'intruder', 'crisis-management', 'playback', 'allow', '{}',"
        " :prev, :h)", at=datetime(2026, 11, 20, 3, 0), prev="0" * 64, h="f" * 64)
    code, _, err = verify()
    assert code == 1 and "broken at entry 7:" in err


def test_reordered_entries_are_named(chain):
    sql, verify, _, _ = chain
    sql("UPDATE audit_entries SET seq = 1000 WHERE seq = 5")
    sql("UPDATE audit_entries SET seq = 5 WHERE seq = 6")
    sql("UPDATE audit_entries SET seq = 6 WHERE seq = 1000")
    code, _, err = verify()
    assert code == 1 and "broken at entry 5:" in err and "link" in err


def test_tail_truncation_needs_the_anchor(chain):
    sql, verify, tmp_path, _ = chain
    anchor = tmp_path / "anchor.json"
    assert verify("--anchor", str(anchor), "--update-anchor")[0] == 0
    assert json.loads(anchor.read_text())["seq"] == N
    sql("DELETE FROM audit_entries WHERE seq > :k", k=N - 2)
    assert verify()[0] == 0  # the chain alone looks fine: that is why the anchor exists
    code, _, err = verify("--anchor", str(anchor))
    assert code == 1 and f"broken at entry {N - 1}:" in err and "truncated" in err


def test_default_anchor_in_the_data_dir(chain):
    sql, verify, tmp_path, _ = chain
    assert verify("--update-anchor")[0] == 0
    assert (tmp_path / "data" / "audit-anchors.jsonl").exists()
    sql("DELETE FROM audit_entries WHERE seq = :k", k=N)
    assert "truncated" in verify()[2]


def test_rewritten_chain_differs_from_the_anchor(chain):
    sql, verify, tmp_path, _ = chain
    anchor = tmp_path / "anchor.json"
    verify("--anchor", str(anchor), "--update-anchor")
    sql("UPDATE audit_entries SET hash = :h WHERE seq = :k", h="e" * 64, k=N)
    code, _, err = verify("--anchor", str(anchor))
    assert code == 1 and f"broken at entry {N}:" in err


def test_unreadable_anchor_is_invalid_input(chain):
    _, verify, tmp_path, _ = chain
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    code, _, err = verify("--anchor", str(bad))
    assert code == 2 and "anchor" in err
