"""The audit trail: append-only and hash-chained."""

from . import actors
from .log import (
    Anchor,
    VerifyResult,
    append,
    check_anchor,
    entry_hash,
    head_anchor,
    read_anchor,
    verify,
    write_anchor,
)
from .records import (
    record_hold_change,
    record_login,
)

__all__ = [
    "Anchor", "VerifyResult", "actors", "append", "check_anchor", "entry_hash", "head_anchor",
    "read_anchor", "record_hold_change", "record_login", "verify", "write_anchor",
]
