"""Our own storage exceptions; botocore and OS errors are translated into these at the boundary."""


class StorageError(Exception):
    """Base of every storage failure."""


class InvalidKey(StorageError, ValueError):
    """An object key that does not follow the segment key contract or escapes the store."""


class ObjectMissing(StorageError):
    """The object does not exist."""


class StorageUnavailable(StorageError):
    """The store cannot be reached or is failing; transient, retry later."""


class ChecksumMismatch(StorageError):
    """Bytes do not match the SHA-256 they were declared or stored with."""


class ObjectConflict(StorageError):
    """The key already holds different evidence; we never overwrite it."""


class ObjectLocked(StorageError):
    """A legal hold (or retention) forbids deleting the object."""


class SegmentRefused(StorageError):
    """A segment that must never be stored or indexed as it is (cut short, overlapping other
    footage of its camera): it goes to quarantine with this reason, never retried."""
