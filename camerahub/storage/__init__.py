"""Storage boundary: segment keys, SegmentStores and make_store, spool and uploader."""

from camerahub.storage.base import ObjectInfo, SegmentStore
from camerahub.storage.errors import (
    ChecksumMismatch,
    InvalidKey,
    ObjectConflict,
    ObjectLocked,
    ObjectMissing,
    SegmentRefused,
    StorageError,
    StorageUnavailable,
)
from camerahub.storage.factory import StoreSpec, make_store
from camerahub.storage.filestore import FileStore
from camerahub.storage.keys import SegmentKey, parse_segment_key, segment_key
from camerahub.storage.s3store import S3Settings, S3Store
from camerahub.storage.spool import RecoveryReport, Spool, SpoolAlarm
from camerahub.storage.spoolfiles import SpoolItem, SpoolSink
from camerahub.storage.uploader import RetryPolicy, Uploader

__all__ = [
    "ChecksumMismatch", "FileStore", "InvalidKey", "ObjectConflict", "ObjectInfo", "ObjectLocked",
    "ObjectMissing", "RecoveryReport", "RetryPolicy", "S3Settings", "S3Store", "SegmentKey",
    "SegmentRefused", "SegmentStore", "Spool", "SpoolAlarm", "SpoolItem", "SpoolSink",
    "StorageError", "StorageUnavailable", "StoreSpec", "Uploader", "make_store",
    "parse_segment_key", "segment_key",
]
