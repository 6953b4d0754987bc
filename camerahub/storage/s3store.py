"""S3Store: segments in an S3-compatible bucket (AWS, MinIO, Ceph RGW; moto in tests).

Credentials come from the environment or a named profile (boto3's normal chain), never
from the YAML. Every upload carries the segment's SHA-256 twice: as the S3 checksum
(`x-amz-checksum-sha256`, a signed header the store checks the body against) and in
`x-amz-meta-sha256` (what our index and exports compare).

One PutObject per segment, and no more work than the guarantees need. On first use the
store is probed once (`StoreCapabilities`) with a throw-away object:
- Does it reject a body that does not match its declared checksum (AWS S3, MinIO)? Then
  the store is the verifier and the segment is not hashed again here; otherwise it is
  hashed locally before it is sent, so corrupt bytes are never uploaded either way, unless
  the caller vouches for the file (`verified`: the spool hashed its bytes as it wrote them
  and the file is untouched since).
- Does it honour `If-None-Match: *` (AWS since 2024, MinIO, Ceph RGW)? Then the put itself
  refuses to overwrite and a HEAD is needed only when it reports the key taken; otherwise
  every put is preceded by a HEAD, as evidence must never be overwritten.
The put reply echoes the checksum the store recorded; only when it does not is the object
checked with a HEAD. The payload is not hashed a third time for SigV4 (UNSIGNED-PAYLOAD):
the signed checksum header already binds the body, which is what boto3 does by itself on
HTTPS and what costs a full SHA-256 pass on plain-HTTP endpoints otherwise.

Timeouts and retries are bounded so an outage surfaces within seconds as
StorageUnavailable and the uploader's own backoff, which never drops data, takes over.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import boto3
import botocore.exceptions
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from camerahub.storage.base import (
    ObjectInfo,
    SegmentStore,
    check_key,
    check_sha256,
    verify_local,
)
from camerahub.storage.errors import (
    ChecksumMismatch,
    ObjectLocked,
    ObjectMissing,
    StorageError,
    StorageUnavailable,
)

log = logging.getLogger(__name__)

# Transport failures: the store is down or unreachable, so retry later.
_TRANSPORT_ERRORS = (
    botocore.exceptions.EndpointConnectionError,
    botocore.exceptions.ConnectionError,
    botocore.exceptions.ConnectTimeoutError,
    botocore.exceptions.ReadTimeoutError,
    botocore.exceptions.ConnectionClosedError,
    botocore.exceptions.ResponseStreamingError,
)
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_TRANSIENT_CODES = frozenset({
    "500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown",
    "RequestTimeout", "RequestTimeTooSkewed", "Throttling", "ThrottlingException",
    "ConditionalRequestConflict",  # a concurrent conditional write to the same key
})
RETENTION_MODES = {"governance": "GOVERNANCE", "compliance": "COMPLIANCE"}
_LOCK_CODES = frozenset({"AccessDenied", "InvalidRequest", "ObjectLocked"})
_NO_LOCK_CODES = frozenset(
    {"ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"}
)
# How S3-compatible stores refuse a body that does not match its declared checksum.
_CHECKSUM_CODES = frozenset({
    "BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch", "XAmzContentSHA256Mismatch",
})
_PRECONDITION_CODES = frozenset({"PreconditionFailed", "412"})
# Segments up to this size are read into memory once and sent from there.
_IN_MEMORY_MAX = 32 * 1024 * 1024
PROBE_PREFIX = "_camerahub/probe/"


@dataclass(frozen=True)
class StoreCapabilities:
    """What the store was seen to enforce by itself (probed once per S3Store)."""

    validates_checksums: bool = False
    conditional_put: bool = False


# What we assume of a store we could not probe: nothing (hash locally, HEAD before put).
ASSUME_NOTHING = StoreCapabilities()


@dataclass(frozen=True)
class S3Settings:
    """Where the bucket is and how hard to try; no credentials here by design."""

    bucket: str
    endpoint_url: str | None = None
    region: str = "us-east-1"
    path_style: bool = False
    profile: str | None = None
    sse: str | None = None  # None, "AES256" or "aws:kms"
    kms_key_id: str | None = None
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 20.0
    max_attempts: int = 3
    multipart_threshold: int = 64 * 1024 * 1024
    multipart_chunksize: int = 16 * 1024 * 1024
    max_concurrency: int = 4
    content_type: str = "video/mp2t"
    # None: probe the store; True/False: skip the probe and assume (tests, locked-down IAM)
    trust_store_checksums: bool | None = None
    conditional_put: bool | None = None


def translate(exc: BaseException, key: str = "") -> StorageError:
    """Map a botocore/boto3 failure to our exception."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, S3UploadFailedError) and cause is not None:
        return translate(cause, key)
    if isinstance(exc, _TRANSPORT_ERRORS):
        return StorageUnavailable(f"{key}: S3 unreachable: {exc}")
    if isinstance(exc, botocore.exceptions.ClientError):
        return _translate_client_error(exc, key)
    if isinstance(exc, S3UploadFailedError):
        return StorageUnavailable(f"{key}: {exc}")
    return StorageError(f"{key}: {exc}")


def _translate_client_error(exc: botocore.exceptions.ClientError, key: str) -> StorageError:
    """Sort an S3 error response by its code."""
    code = _error_code(exc)
    if code in _MISSING_CODES:
        return ObjectMissing(key)
    if code in _TRANSIENT_CODES:
        return StorageUnavailable(f"{key}: S3 {code}: {exc}")
    if code in _CHECKSUM_CODES or code.startswith("XAmzContentSHA256"):
        return ChecksumMismatch(f"{key}: S3 rejected the checksum: {exc}")
    return StorageError(f"{key}: S3 {code}: {exc}")


def _hex_to_b64(sha256: str) -> str:
    """The base64 form S3 uses for checksums."""
    return base64.b64encode(bytes.fromhex(sha256)).decode("ascii")


def _b64_to_hex(value: str | None) -> str | None:
    """Hex SHA-256 from an S3 full-object checksum; None for composite (multipart) ones."""
    if not value or "-" in value:
        return None
    return base64.b64decode(value).hex()


class S3Store(SegmentStore):
    """Segments in one S3 bucket."""

    def __init__(self, settings: S3Settings, client=None) -> None:
        self.settings = settings
        self.client = client or make_client(settings)
        self.transfer = TransferConfig(
            multipart_threshold=settings.multipart_threshold,
            multipart_chunksize=settings.multipart_chunksize,
            max_concurrency=settings.max_concurrency,
            num_download_attempts=settings.max_attempts,
        )
        self._caps: StoreCapabilities | None = None
        self._caps_lock = threading.Lock()

    def _call(self, key: str, operation: str, **kwargs):
        """Call one client operation, translating its failures."""
        try:
            return getattr(self.client, operation)(Bucket=self.settings.bucket, **kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise translate(exc, key) from exc

    @functools.cached_property
    def legal_hold_supported(self) -> bool:  # type: ignore[override]
        """Whether the bucket has Object Lock enabled (asked once)."""
        try:
            reply = self.client.get_object_lock_configuration(Bucket=self.settings.bucket)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _NO_LOCK_CODES:
                return False
            raise translate(exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise translate(exc) from exc
        config = reply.get("ObjectLockConfiguration", {})
        return config.get("ObjectLockEnabled") == "Enabled"

    def put(self, key: str, path: Path, sha256: str, metadata: dict[str, str] | None = None,
            *, verified: bool = False) -> bool:
        """Upload once; identical re-puts are no-ops, different bytes are refused."""
        check_key(key)
        check_sha256(sha256)
        path = Path(path)
        size = path.stat().st_size
        if size >= self.settings.multipart_threshold:
            return self._put_multipart(key, path, sha256, size, metadata, verified)
        caps = self.capabilities()
        if not caps.conditional_put and self._matches_existing(key, sha256, size):
            return False
        body = self._body(path, size, sha256, caps.validates_checksums or verified)
        extra = self._extra_args(sha256, metadata)
        extra["ChecksumSHA256"] = _hex_to_b64(sha256)  # ours: the SDK need not hash again
        if caps.conditional_put:
            extra["IfNoneMatch"] = "*"
        try:
            reply = self.client.put_object(Bucket=self.settings.bucket, Key=key, Body=body,
                                           **extra)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) in _PRECONDITION_CODES:
                return self._taken(key, sha256, size)
            raise translate(exc, key) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise translate(exc, key) from exc
        finally:
            if not isinstance(body, bytes):
                body.close()
        if _b64_to_hex(reply.get("ChecksumSHA256")) != sha256:
            self._verify_uploaded(key, sha256, size)  # the store did not echo our checksum
        return True

    def _body(self, path: Path, size: int, sha256: str, checked: bool):
        """The request body: the bytes themselves, or an open file for big segments.

        Unless they are `checked` elsewhere (a store that checks checksums itself, or a
        spool file untouched since it was hashed), the bytes are hashed here first.
        """
        if size > _IN_MEMORY_MAX:
            if not checked:
                verify_local(path, sha256)
            return open(path, "rb")
        body = path.read_bytes()
        if len(body) != size:
            raise ChecksumMismatch(f"{path}: changed size while being read")
        if not checked and hashlib.sha256(body).hexdigest() != sha256:
            raise ChecksumMismatch(f"{path}: sha256 does not match the declared {sha256}")
        return body

    def _taken(self, key: str, sha256: str, size: int) -> bool:
        """The conditional put found the key taken: ours already (False) or a conflict."""
        if self._matches_existing(key, sha256, size):
            return False
        # 412 yet nothing there: deleted in between, or not yet visible; try again later.
        raise StorageUnavailable(f"{key}: reported as existing but cannot be read back")

    def _put_multipart(self, key: str, path: Path, sha256: str, size: int,
                       metadata: dict[str, str] | None, verified: bool) -> bool:
        """Large files: local hash (unless verified), HEAD, the transfer manager, HEAD
        again."""
        if not verified:
            verify_local(path, sha256)
        if self._matches_existing(key, sha256, size):
            return False
        try:
            self.client.upload_file(str(path), self.settings.bucket, key,
                                    ExtraArgs=self._extra_args(sha256, metadata),
                                    Config=self.transfer)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
                S3UploadFailedError) as exc:
            raise translate(exc, key) from exc
        self._verify_uploaded(key, sha256, size)
        return True

    def capabilities(self) -> StoreCapabilities:
        """What the store enforces itself; probed on first use, unless configured."""
        with self._caps_lock:
            if self._caps is None:
                self._caps = self._probe()
                log.info("S3 bucket %s: checks checksums itself: %s; conditional put: %s",
                         self.settings.bucket, self._caps.validates_checksums,
                         self._caps.conditional_put)
            return self._caps

    def _probe(self) -> StoreCapabilities:
        """Find out with a throw-away object what the store enforces.

        A transport failure propagates (the store is down, the upload will be retried and
        the probe with it); any refusal we cannot read as an answer means "assume nothing".
        """
        forced_trust = self.settings.trust_store_checksums
        forced_conditional = self.settings.conditional_put
        if forced_trust is not None and forced_conditional is not None:
            return StoreCapabilities(forced_trust, forced_conditional)
        key = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        body = b"camerahub store capability probe\n"
        right = hashlib.sha256(body).hexdigest()
        wrong = hashlib.sha256(body + b"!").hexdigest()
        try:
            validates = self._probe_put(key, body, wrong) == "refused-checksum"
            if validates and self._probe_put(key, body, right) != "stored":
                return ASSUME_NOTHING
            conditional = self._probe_put(key, body, right) == "refused-precondition"
        except StorageError as exc:
            if isinstance(exc, StorageUnavailable):
                raise
            log.warning("S3 capability probe refused (%s); hashing locally, HEAD before put",
                        exc)
            return ASSUME_NOTHING
        finally:
            self._forget_probe(key)
        return StoreCapabilities(
            validates if forced_trust is None else forced_trust,
            conditional if forced_conditional is None else forced_conditional)

    def _probe_put(self, key: str, body: bytes, sha256: str) -> str:
        """One conditional put of the probe: stored, refused-checksum or refused-precondition."""
        try:
            self.client.put_object(Bucket=self.settings.bucket, Key=key, Body=body,
                                   ChecksumAlgorithm="SHA256",
                                   ChecksumSHA256=_hex_to_b64(sha256), IfNoneMatch="*")
        except botocore.exceptions.ClientError as exc:
            code = _error_code(exc)
            if code in _CHECKSUM_CODES:
                return "refused-checksum"
            if code in _PRECONDITION_CODES:
                return "refused-precondition"
            raise translate(exc, key) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise translate(exc, key) from exc
        return "stored"

    def _forget_probe(self, key: str) -> None:
        """Remove the probe object; a bucket whose retention keeps it only costs a few bytes."""
        try:
            self.delete(key)
        except StorageError as exc:
            log.info("S3 capability probe %s left in place: %s", key, exc)

    def _extra_args(self, sha256: str, metadata: dict[str, str] | None) -> dict:
        """Upload arguments: checksum, metadata, encryption."""
        extra = {
            "ChecksumAlgorithm": "SHA256",
            "Metadata": {**(metadata or {}), "sha256": sha256},
            "ContentType": self.settings.content_type,
        }
        if self.settings.sse:
            extra["ServerSideEncryption"] = self.settings.sse
        if self.settings.sse == "aws:kms" and self.settings.kms_key_id:
            extra["SSEKMSKeyId"] = self.settings.kms_key_id
        return extra

    def _verify_uploaded(self, key: str, sha256: str, size: int) -> None:
        """HEAD the new object: size, metadata and (single-part) server checksum must agree."""
        info = self.head(key)
        if info is None:
            raise StorageUnavailable(f"{key}: uploaded object is not visible yet")
        # Multipart objects carry a checksum of part checksums, not of the whole file.
        single_part = size < self.settings.multipart_threshold
        server = info.server_sha256 if single_part else None
        if info.size != size or info.sha256 != sha256 or (server and server != sha256):
            raise ChecksumMismatch(f"{key}: stored object does not match {sha256} ({size} B)")

    def head(self, key: str) -> ObjectInfo | None:
        """HEAD an object with its checksum; None if missing.

        `server_sha256` is the store's checksum read as a whole-file SHA-256; it means that
        only for single-part uploads (composite checksums normally end in `-N`).
        """
        try:
            reply = self._call(key, "head_object", Key=check_key(key), ChecksumMode="ENABLED")
        except ObjectMissing:
            return None
        metadata = dict(reply.get("Metadata", {}))
        server_hex = _b64_to_hex(reply.get("ChecksumSHA256"))
        return ObjectInfo(
            key, int(reply["ContentLength"]), metadata.get("sha256") or server_hex, metadata,
            reply.get("ObjectLockLegalHoldStatus") == "ON", server_hex,
            reply.get("ObjectLockMode"), reply.get("ObjectLockRetainUntilDate"),
        )

    def open(self, key: str) -> BinaryIO:
        """Return the object's streaming body."""
        return self._call(key, "get_object", Key=check_key(key))["Body"]

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Read a byte range with an HTTP Range request."""
        if length <= 0:
            return b""
        byte_range = f"bytes={offset}-{offset + length - 1}"
        body = self._call(key, "get_object", Key=check_key(key), Range=byte_range)["Body"]
        with body:
            return body.read()

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """List keys under a prefix, page by page."""
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.settings.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    yield item["Key"]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise translate(exc, prefix) from exc

    def delete(self, key: str) -> None:
        """Delete the current version for good, unless held (a delete marker is not enough)."""
        try:
            reply = self._call(key, "head_object", Key=check_key(key))
        except ObjectMissing:
            return
        if reply.get("ObjectLockLegalHoldStatus") == "ON":
            raise ObjectLocked(f"{key} is under legal hold")
        version = {"VersionId": reply["VersionId"]} if reply.get("VersionId") else {}
        try:
            self._call(key, "delete_object", Key=key, **version)
        except StorageError as exc:
            if _code_of(exc) in _LOCK_CODES:
                raise ObjectLocked(f"{key}: retention forbids deletion: {exc}") from exc
            raise

    def set_legal_hold(self, key: str, on: bool) -> None:
        """Place or lift an S3 Object Lock legal hold."""
        if not self.legal_hold_supported:
            raise StorageError(f"bucket {self.settings.bucket} has no Object Lock")
        if self.head(key) is None:
            raise ObjectMissing(key)
        status = "ON" if on else "OFF"
        self._call(key, "put_object_legal_hold", Key=key, LegalHold={"Status": status})

    @property
    def retention_supported(self) -> bool:
        """Object Lock retention needs what legal hold needs: a bucket with Object Lock."""
        return self.legal_hold_supported

    def set_retention(self, key: str, mode: str, until: datetime) -> bool:
        """Set (or extend, never shorten) the current version's Object Lock retention."""
        if mode not in RETENTION_MODES:
            raise ValueError(f"retention mode must be one of {sorted(RETENTION_MODES)}")
        if not self.legal_hold_supported:
            raise StorageError(f"bucket {self.settings.bucket} has no Object Lock")
        reply = self._call(key, "head_object", Key=check_key(key))  # ObjectMissing if gone
        current = reply.get("ObjectLockRetainUntilDate")
        if current is not None and current >= until:
            return False
        version = {"VersionId": reply["VersionId"]} if reply.get("VersionId") else {}
        self._call(key, "put_object_retention", Key=key, **version,
                   Retention={"Mode": RETENTION_MODES[mode], "RetainUntilDate": until})
        return True

    def presign_get(self, key: str, expires_s: int = 300) -> str | None:
        """Return a presigned GET URL (signing is local; no request is made)."""
        params = {"Bucket": self.settings.bucket, "Key": check_key(key)}
        return self.client.generate_presigned_url("get_object", Params=params,
                                                  ExpiresIn=int(expires_s))


def _error_code(exc: botocore.exceptions.ClientError) -> str:
    """The S3 error code of a ClientError (the HTTP status when the body had none)."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code") or status or "")


def _code_of(exc: BaseException) -> str:
    """The S3 error code behind one of our exceptions, if any."""
    cause = exc.__cause__
    return _error_code(cause) if isinstance(cause, botocore.exceptions.ClientError) else ""


def make_client(settings: S3Settings):
    """Build an S3 client with bounded timeouts and retries."""
    session = boto3.session.Session(profile_name=settings.profile)
    config = Config(
        region_name=settings.region,
        connect_timeout=settings.connect_timeout_s,
        read_timeout=settings.read_timeout_s,
        retries={"max_attempts": settings.max_attempts, "mode": "standard"},
        # Every body we send carries a signed x-amz-checksum-sha256 that binds it, so SigV4
        # need not hash it once more (it already does not on HTTPS; see the module doc).
        s3={"addressing_style": "path" if settings.path_style else "auto",
            "payload_signing_enabled": False},
        signature_version="s3v4",
    )
    return session.client("s3", endpoint_url=settings.endpoint_url, config=config)
