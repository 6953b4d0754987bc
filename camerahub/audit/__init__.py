"""The audit trail: append-only and hash-chained."""

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
    record_access,
    record_hold_change,
    record_login,
    record_rejected_credentials,
)

__all__ = [
    "Anchor", "VerifyResult", "append", "check_anchor", "entry_hash", "head_anchor",
    "read_anchor", "record_access", "record_hold_change", "record_login",
    "record_rejected_credentials", "verify", "write_anchor",
]
