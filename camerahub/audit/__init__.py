"""The audit trail: append-only and hash-chained, its head anchored outside the database."""

from . import actors
from .anchors import (
    Anchor,
    AnchorLog,
    AnchorSink,
    check_anchor,
    head_anchor,
    newest,
    verify_since,
)
from .log import VerifyResult, append, entry_hash, verify
from .records import (
    record_hold_change,
    record_login,
)

__all__ = [
    "Anchor", "AnchorLog", "AnchorSink", "VerifyResult", "actors", "append", "check_anchor",
    "entry_hash", "head_anchor", "newest", "record_hold_change", "record_login", "verify",
    "verify_since",
]
