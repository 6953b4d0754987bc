"""The audit trail: append-only and hash-chained."""

from .log import VerifyResult, append, entry_hash, verify

__all__ = ["VerifyResult", "append", "entry_hash", "verify"]
