"""Append-only, hash-chained audit log: every entry stores the hash of the one before."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from camerahub.db.models import AuditEntry
from camerahub.db.types import utcnow

from . import actors

GENESIS = "0" * 64
# Arbitrary constant naming the audit append lock on PostgreSQL (SQLite serialises writers).
AUDIT_LOCK_ID = 0x6175_6474
CHAINED_FIELDS = ("seq", "at", "actor", "role", "action", "decision", "camera_id",
                  "footage_start", "footage_end", "reason", "incident_id", "client", "detail")
# Lone UTF-16 surrogates (from JSON escapes) fit a Python str but no UTF-8 column.
SURROGATES = re.compile("[\ud800-\udfff]")
# Column sizes PostgreSQL enforces (SQLite does not): a longer value would fail the append.
LIMITS = {c.name: c.type.length for c in AuditEntry.__table__.columns
          if getattr(c.type, "length", None)}


def _canon(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    return value


def _clean(value: Any) -> Any:
    """Entries may quote hostile input: NUL (no PostgreSQL text holds it) and lone surrogates
    (no UTF-8 does) become U+FFFD."""
    if isinstance(value, str):
        return SURROGATES.sub("\ufffd", value.replace("\x00", "\ufffd"))
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _fit(name: str, value: Any) -> Any:
    """value cut to its column's size, ending in an ellipsis that shows the cut."""
    limit = LIMITS.get(name)
    if isinstance(value, str) and limit is not None and len(value) > limit:
        return value[:limit - 1] + "\u2026"
    return value


def entry_hash(fields: dict[str, Any], prev_hash: str) -> str:
    """SHA-256 over the canonical JSON of an entry's fields and the previous hash."""
    body = {k: _canon(fields.get(k)) for k in CHAINED_FIELDS}
    blob = json.dumps([prev_hash, body], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def append(session: Session, *, actor: str, action: str, decision: str = "info",
           role: str | None = None, camera_id: str | None = None,
           footage_start: datetime | None = None, footage_end: datetime | None = None,
           reason: str | None = None, incident_id: int | None = None,
           client: str | None = None, detail: dict[str, Any] | None = None) -> AuditEntry:
    """Append one entry inside the caller's transaction (commit makes it durable).

    actor must be typed (camerahub.audit.actors): user:<id>, apikey:<name>, anonymous...
    """
    actors.parse(actor)  # ValueError: an untyped actor could pass for someone else
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AUDIT_LOCK_ID})
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    fields = {"seq": seq, "at": utcnow(), "actor": actor, "role": role, "action": action,
              "decision": decision, "camera_id": camera_id, "footage_start": footage_start,
              "footage_end": footage_end, "reason": reason, "incident_id": incident_id,
              "client": client, "detail": detail or {}}
    fields = {k: _fit(k, _clean(v)) for k, v in fields.items()}
    # Microsecond precision is what every backend stores, so hash what will be read back.
    entry = AuditEntry(**fields, prev_hash=prev, hash=entry_hash(fields, prev))
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of checking the chain; `first_bad` names the first broken entry."""

    ok: bool
    entries: int
    first_bad: int | None = None
    problem: str | None = None
    head: str = GENESIS


def _row_fields(row: AuditEntry) -> dict[str, Any]:
    return {k: getattr(row, k) for k in CHAINED_FIELDS}


def verify(session: Session, batch: int = 5000) -> VerifyResult:
    """Walk the chain in order; report the first edited, deleted, inserted or moved entry."""
    prev, expected_seq, count = GENESIS, 1, 0
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    for row in session.scalars(stmt):
        count += 1
        problem = check_row(row, expected_seq, prev)
        if problem:
            return VerifyResult(False, count, row.seq, problem, prev)
        prev, expected_seq = row.hash, row.seq + 1
    return VerifyResult(True, count, head=prev)


def check_row(row: AuditEntry, expected_seq: int, prev: str) -> str | None:
    """Why this row breaks the chain at expected_seq after prev, or None if it holds."""
    if row.seq != expected_seq:
        return f"sequence jumps from {expected_seq - 1} to {row.seq} (entries deleted or inserted)"
    if row.prev_hash != prev:
        return "previous-hash link broken (entry inserted, deleted or reordered)"
    if entry_hash(_row_fields(row), row.prev_hash) != row.hash:
        return "content does not match its hash (entry edited)"
    return None
