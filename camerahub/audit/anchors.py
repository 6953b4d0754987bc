"""Anchors: the chain's head kept outside the database, so truncation and rewrites show.

A hash chain alone cannot tell "the last N entries were deleted" or "the whole table was
rewritten with fresh hashes" from "nothing happened". An anchor is (seq, hash, at) of a
verified head, saved where the database administrator cannot rewrite it: an append-only
local file (`AnchorLog`) and, where the object store has Object Lock, a write-once object
under legal hold (the store-backed sink lives in camerahub.jobs, which may use storage).
`audit verify` checks the chain against the newest anchor of every sink.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from camerahub.db.models import AuditEntry
from camerahub.db.types import utcnow

from .log import GENESIS, VerifyResult, check_row

MAX_ANCHOR_BYTES = 4096


@dataclass(frozen=True)
class Anchor:
    """A chain head recorded at some time: entry seq had this hash."""

    seq: int
    hash: str
    at: str = ""

    def to_json(self) -> str:
        """The anchor as one JSON object on one line."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Anchor:
        """Parse one anchor; ValueError if it is not one."""
        if len(text) > MAX_ANCHOR_BYTES:
            raise ValueError("not an audit anchor (too long)")
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("seq"), int) \
                or not isinstance(data.get("hash"), str) or data["seq"] < 0:
            raise ValueError("not an audit anchor (needs a non-negative seq and a hash)")
        return cls(seq=data["seq"], hash=data["hash"], at=str(data.get("at", "")))


class AnchorSink(Protocol):
    """Somewhere anchors are kept: saved in order, the newest read back."""

    name: str

    def save(self, anchor: Anchor) -> None:
        """Keep this anchor (never replacing an older one)."""

    def latest(self) -> Anchor | None:
        """The newest anchor kept here, or None."""


class AnchorLog:
    """An append-only local file of anchors, one JSON object a line, fsynced.

    Also reads the single-anchor files that `audit verify --update-anchor` wrote before.
    """

    def __init__(self, path: Path):
        self.path = path
        self.name = f"file {path}"

    def save(self, anchor: Anchor) -> None:
        """Append the anchor and make it durable (O_APPEND: no earlier line is rewritten)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (anchor.to_json() + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def latest(self) -> Anchor | None:
        """The anchor with the highest seq in the file; ValueError if none line parses."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return None
        anchors = [_parse(line) for line in lines if line.strip()]
        valid = [a for a in anchors if a is not None]
        if lines and not valid:
            raise ValueError(f"{self.path} holds no readable anchor")
        return max(valid, key=lambda a: a.seq, default=None)


def _parse(line: str) -> Anchor | None:
    """One line's anchor, or None for a torn last line (a crash while appending)."""
    try:
        return Anchor.from_json(line)
    except ValueError:
        return None


def newest(anchors: Iterable[Anchor | None]) -> Anchor | None:
    """The anchor that covers the most entries."""
    return max((a for a in anchors if a is not None), key=lambda a: a.seq, default=None)


def head_anchor(result: VerifyResult) -> Anchor:
    """The anchor of a verified chain's head."""
    return Anchor(seq=result.entries, hash=result.head, at=utcnow().isoformat())


def check_anchor(session: Session, result: VerifyResult, anchor: Anchor) -> VerifyResult:
    """Fold an anchor comparison into an intact chain's result (truncation, rewrite)."""
    if not result.ok or anchor.seq == 0:
        return result
    if anchor.seq > result.entries:
        return VerifyResult(False, result.entries, result.entries + 1,
                            f"chain ends at entry {result.entries} but the anchor recorded "
                            f"entry {anchor.seq}: entries {result.entries + 1}..{anchor.seq} "
                            "were removed (tail truncated)", result.head)
    stored = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == anchor.seq))
    if stored != anchor.hash:
        return VerifyResult(False, result.entries, anchor.seq,
                            "hash differs from the anchor (chain rewritten up to here)",
                            result.head)
    return result


def verify_since(session: Session, anchor: Anchor | None, batch: int = 5000) -> VerifyResult:
    """Verify only the entries after an anchor (the periodic job's cheap check).

    The anchored entry itself must still carry the anchored hash; everything after it must
    chain from there. Without an anchor this is a full walk from the genesis.
    """
    prev, expected = (anchor.hash, anchor.seq + 1) if anchor else (GENESIS, 1)
    if anchor is not None and anchor.seq > 0:
        stored = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == anchor.seq))
        if stored != anchor.hash:
            why = "missing" if stored is None else "rewritten"
            return VerifyResult(False, anchor.seq, anchor.seq,
                                f"anchored entry {anchor.seq} is {why}", anchor.hash)
    stmt = (select(AuditEntry).where(AuditEntry.seq >= expected).order_by(AuditEntry.seq)
            .execution_options(yield_per=batch))
    for row in session.scalars(stmt):
        problem = check_row(row, expected, prev)
        if problem:
            return VerifyResult(False, expected - 1, row.seq, problem, prev)
        prev, expected = row.hash, row.seq + 1
    return VerifyResult(True, expected - 1, head=prev)
