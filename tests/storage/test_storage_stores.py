"""The SegmentStore contract, run against FileStore, S3Store and S3Store with Object Lock."""

from __future__ import annotations

import hashlib
import os
import time
import urllib.request

import pytest

from camerahub.storage import (
    ChecksumMismatch,
    FileStore,
    InvalidKey,
    ObjectConflict,
    ObjectLocked,
    ObjectMissing,
    S3Settings,
    S3Store,
    StorageError,
    StorageUnavailable,
)
from camerahub.storage.s3store import make_client
from tests.support.s3 import free_port

KEY = "hq/hq-1f-koseki-01/2026/11/26/03/20261126T031500.000Z_10000.ts"


def blob(tmp_path, data: bytes, name="seg.ts"):
    """A local file and its SHA-256."""
    path = tmp_path / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def test_put_then_head_open_and_range(store, tmp_path):
    data = os.urandom(200_000)
    path, sha = blob(tmp_path, data)
    assert store.put(KEY, path, sha, {"camera": "hq-1f-koseki-01"}) is True
    info = store.head(KEY)
    assert (info.size, info.sha256, info.legal_hold) == (len(data), sha, False)
    assert info.metadata["camera"] == "hq-1f-koseki-01"
    with store.open(KEY) as body:
        assert body.read() == data
    assert store.get_range(KEY, 1000, 500) == data[1000:1500]


def test_put_is_idempotent_for_the_same_bytes(store, tmp_path):
    path, sha = blob(tmp_path, b"evidence" * 1000)
    assert store.put(KEY, path, sha) is True
    assert store.put(KEY, path, sha) is False
    assert list(store.iter_keys("hq/")) == [KEY]


def test_put_refuses_to_overwrite_with_different_bytes(store, tmp_path):
    first, sha1 = blob(tmp_path, b"original" * 1000, "a.ts")
    second, sha2 = blob(tmp_path, b"tampered" * 1000, "b.ts")
    store.put(KEY, first, sha1)
    with pytest.raises(ObjectConflict):
        store.put(KEY, second, sha2)
    with store.open(KEY) as body:
        assert hashlib.sha256(body.read()).hexdigest() == sha1


def test_put_refuses_a_file_that_does_not_match_its_declared_sha(store, tmp_path):
    path, _ = blob(tmp_path, b"bytes on disk")
    with pytest.raises(ChecksumMismatch):
        store.put(KEY, path, hashlib.sha256(b"what the sidecar says").hexdigest())
    assert store.head(KEY) is None


def test_missing_objects(store):
    assert store.head(KEY) is None
    with pytest.raises(ObjectMissing):
        store.open(KEY).read()
    with pytest.raises(ObjectMissing):
        store.get_range(KEY, 0, 10)
    if store.legal_hold_supported:
        with pytest.raises(ObjectMissing):
            store.set_legal_hold(KEY, True)
    store.delete(KEY)  # deleting nothing is not an error


def test_iter_keys_lists_by_prefix_in_time_order(store, tmp_path):
    path, sha = blob(tmp_path, b"x" * 100)
    keys = [f"hq/cam-{c}/2026/11/26/0{h}/20261126T0{h}0000.000Z_10000.ts"
            for c in "ab" for h in (3, 4)]
    for key in reversed(keys):
        store.put(key, path, sha)
    assert list(store.iter_keys("hq/cam-a/")) == keys[:2]
    assert list(store.iter_keys("hq/cam-b/2026/11/26/04/")) == keys[3:]
    assert sorted(store.iter_keys("")) == keys


def test_delete_removes_the_object(store, tmp_path):
    path, sha = blob(tmp_path, b"y" * 100)
    store.put(KEY, path, sha)
    store.delete(KEY)
    assert store.head(KEY) is None
    assert list(store.iter_keys("hq/")) == []


def test_legal_hold_blocks_delete_until_lifted(store, tmp_path):
    path, sha = blob(tmp_path, b"z" * 100)
    store.put(KEY, path, sha)
    if not store.legal_hold_supported:  # plain S3 bucket: a hold is refused, not faked
        with pytest.raises(StorageError):
            store.set_legal_hold(KEY, True)
        return
    store.set_legal_hold(KEY, True)
    assert store.head(KEY).legal_hold
    with pytest.raises(ObjectLocked):
        store.delete(KEY)
    assert store.head(KEY).sha256 == sha
    store.set_legal_hold(KEY, False)
    store.delete(KEY)
    assert store.head(KEY) is None


def test_plain_bucket_reports_no_legal_hold(moto_s3, tmp_path):
    store = S3Store(moto_s3.settings(moto_s3.new_bucket()))
    path, sha = blob(tmp_path, b"q" * 100)
    store.put(KEY, path, sha)
    assert store.legal_hold_supported is False
    with pytest.raises(StorageError):
        store.set_legal_hold(KEY, True)


def test_s3_object_carries_sha256_as_checksum_and_metadata(moto_s3, tmp_path):
    bucket = moto_s3.new_bucket()
    store = S3Store(moto_s3.settings(bucket))
    path, sha = blob(tmp_path, os.urandom(50_000))
    store.put(KEY, path, sha)
    raw = make_client(moto_s3.settings(bucket)).head_object(
        Bucket=bucket, Key=KEY, ChecksumMode="ENABLED")
    assert raw["Metadata"]["sha256"] == sha
    assert store.head(KEY).server_sha256 == sha


def test_s3_server_side_encryption_is_requested(moto_s3, tmp_path):
    bucket = moto_s3.new_bucket()
    store = S3Store(moto_s3.settings(bucket, sse="AES256"))
    path, sha = blob(tmp_path, b"encrypted at rest" * 10)
    store.put(KEY, path, sha)
    raw = make_client(moto_s3.settings(bucket)).head_object(Bucket=bucket, Key=KEY)
    assert raw["ServerSideEncryption"] == "AES256"


def test_s3_multipart_upload_is_verified(moto_s3, tmp_path):
    settings = moto_s3.settings(moto_s3.new_bucket(), multipart_threshold=5 * 1024 * 1024,
                                multipart_chunksize=5 * 1024 * 1024)
    store = S3Store(settings)
    data = os.urandom(11 * 1024 * 1024)
    path, sha = blob(tmp_path, data)
    assert store.put(KEY, path, sha) is True
    assert store.head(KEY).sha256 == sha and store.head(KEY).size == len(data)
    assert store.put(KEY, path, sha) is False


def test_s3_presigned_url_downloads_the_object(moto_s3, tmp_path):
    store = S3Store(moto_s3.settings(moto_s3.new_bucket()))
    path, sha = blob(tmp_path, b"presigned" * 10)
    store.put(KEY, path, sha)
    url = store.presign_get(KEY, 60)
    assert url.startswith(moto_s3.endpoint)
    with urllib.request.urlopen(url, timeout=10) as reply:
        assert reply.read() == b"presigned" * 10


def test_file_store_has_no_presigned_urls(tmp_path):
    assert FileStore(tmp_path).presign_get(KEY) is None


def test_dead_endpoint_is_storage_unavailable_quickly(tmp_path):
    settings = S3Settings(bucket="seg-dead", endpoint_url=f"http://127.0.0.1:{free_port()}",
                          path_style=True, connect_timeout_s=1.0, max_attempts=1)
    store = S3Store(settings)
    path, sha = blob(tmp_path, b"w" * 10)
    started = time.monotonic()
    with pytest.raises(StorageUnavailable):
        store.put(KEY, path, sha)
    with pytest.raises(StorageUnavailable):
        list(store.iter_keys("hq/"))
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    "key",
    ["../escape.ts", "/etc/passwd", "hq/../../x.ts", "hq/./x.ts", "hq//x.ts", "hq/x.ts/",
     "hq\\x.ts", ".hidden/x.ts", "hq/.meta", "", "hq/\0.ts"],
)
def test_file_store_rejects_keys_that_could_escape(tmp_path, key):
    store = FileStore(tmp_path / "store")
    path, sha = blob(tmp_path, b"v")
    with pytest.raises(InvalidKey):
        store.put(key, path, sha)
    with pytest.raises(InvalidKey):
        store.head(key)
    assert not (tmp_path / "escape.ts").exists() and not (tmp_path / "x.ts").exists()


def test_file_store_rejects_a_symlink_out_of_the_root(tmp_path):
    store = FileStore(tmp_path / "store")
    outside = tmp_path / "outside"
    outside.mkdir()
    (store.root / "data" / "hq").symlink_to(outside)
    path, sha = blob(tmp_path, b"v")
    with pytest.raises(InvalidKey):
        store.put("hq/x.ts", path, sha)
    assert list(outside.iterdir()) == []


def test_file_store_detects_bit_rot(tmp_path):
    store = FileStore(tmp_path / "store")
    path, sha = blob(tmp_path, b"u" * 1000)
    store.put(KEY, path, sha)
    store.verify(KEY)
    (store.root / "data" / KEY).write_bytes(b"U" * 1000)
    with pytest.raises(ChecksumMismatch):
        store.verify(KEY)
