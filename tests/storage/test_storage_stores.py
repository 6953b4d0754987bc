"""The SegmentStore contract, run against FileStore, S3Store and S3Store with Object Lock."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

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
from camerahub.storage.s3store import PROBE_PREFIX, StoreCapabilities, make_client
from tests.support.net import free_port
from tests.support.s3 import S3Gateway

KEY = "hq/hq-1f-koseki-01/2026/11/26/03/20261126T031500.000Z_10000.ts"
KEY2 = "hq/hq-1f-koseki-01/2026/11/26/03/20261126T031510.000Z_10000.ts"


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


def test_s3_probe_learns_what_the_store_enforces_and_leaves_nothing(moto_s3, tmp_path):
    store = S3Store(moto_s3.settings(moto_s3.new_bucket()))
    path, sha = blob(tmp_path, os.urandom(4000))
    assert store.put(KEY, path, sha) is True
    # moto stores whatever checksum it is told, and honours If-None-Match
    assert store.capabilities() == StoreCapabilities(validates_checksums=False,
                                                     conditional_put=True)
    assert list(store.iter_keys(PROBE_PREFIX)) == []
    assert store.put(KEY, path, sha) is False  # the conditional put said "taken"


def test_s3_store_that_checks_checksums_refuses_corrupt_bytes_itself(moto_s3, tmp_path):
    bucket = moto_s3.new_bucket()
    with S3Gateway(moto_s3, checks_checksums=True) as gateway:
        store = S3Store(gateway.settings(bucket))
        path, sha = blob(tmp_path, os.urandom(5000))
        assert store.put(KEY, path, sha) is True
        assert store.capabilities().validates_checksums is True
        # The spool copy rotted after the segmenter hashed it: not hashed again here,
        # the store compares the body with the declared checksum and refuses it.
        rotten, _ = blob(tmp_path, os.urandom(5000), "rotten.ts")
        with pytest.raises(ChecksumMismatch):
            store.put(KEY2, rotten, sha)
        assert gateway.refused[-1].endswith(KEY2)
        assert store.head(KEY2) is None
        assert store.head(KEY).server_sha256 == sha


def test_s3_store_that_ignores_if_none_match_is_asked_before_every_put(moto_s3, tmp_path):
    bucket = moto_s3.new_bucket()
    with S3Gateway(moto_s3, ignores_if_none_match=True) as gateway:
        store = S3Store(gateway.settings(bucket))
        first, sha1 = blob(tmp_path, b"original" * 500, "a.ts")
        second, sha2 = blob(tmp_path, b"tampered" * 500, "b.ts")
        assert store.put(KEY, first, sha1) is True
        assert store.capabilities() == StoreCapabilities(False, False)
        assert store.put(KEY, first, sha1) is False
        with pytest.raises(ObjectConflict):
            store.put(KEY, second, sha2)
        with store.open(KEY) as body:
            assert hashlib.sha256(body.read()).hexdigest() == sha1


def test_s3_capabilities_from_settings_skip_the_probe(moto_s3, tmp_path):
    bucket = moto_s3.new_bucket()
    with S3Gateway(moto_s3) as gateway:
        store = S3Store(gateway.settings(bucket, trust_store_checksums=False,
                                         conditional_put=False))
        assert store.capabilities() == StoreCapabilities(False, False)
        path, sha = blob(tmp_path, b"configured" * 100)
        assert store.put(KEY, path, sha) is True
        assert store.put(KEY, path, sha) is False


def test_s3_probe_is_retried_after_an_outage(tmp_path):
    from tests.support.s3 import MotoS3

    moto = MotoS3()
    store = S3Store(moto.settings("seg-later", connect_timeout_s=0.5))
    path, sha = blob(tmp_path, b"later" * 100)
    with pytest.raises(StorageUnavailable):
        store.put(KEY, path, sha)  # down: nothing learnt, nothing assumed
    moto.start()
    try:
        make_client(moto.settings("seg-later")).create_bucket(Bucket="seg-later")
        assert store.put(KEY, path, sha) is True
        assert store.capabilities().conditional_put is True
    finally:
        moto.stop()


def test_file_store_links_a_segment_on_the_same_filesystem(tmp_path):
    store = FileStore(tmp_path / "store")
    data = os.urandom(100_000)
    path, sha = blob(tmp_path, data)
    assert store.put(KEY, path, sha) is True
    assert os.path.samefile(store.root / "data" / KEY, path)  # no copy was made
    path.unlink()  # the spool lets go of its name
    with store.open(KEY) as body:
        assert body.read() == data
    assert [p.name for p in (store.root / "data" / KEY).parent.iterdir()] == [Path(KEY).name]


def test_file_store_copies_across_filesystems_and_checks_on_the_way(tmp_path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second filesystem (/dev/shm)")
    store = FileStore(tmp_path / "store")
    source = Path(tempfile.mkdtemp(dir=shm))
    try:
        data = os.urandom(100_000)
        path, sha = blob(source, data)
        assert store.put(KEY, path, sha) is True
        assert not os.path.samefile(store.root / "data" / KEY, path)
        with store.open(KEY) as body:
            assert body.read() == data
        rotten, _ = blob(source, b"rot" * 100, "rotten.ts")
        with pytest.raises(ChecksumMismatch):
            store.put(KEY2, rotten, sha)
        assert store.head(KEY2) is None
        assert [p.name for p in (store.root / "data" / KEY).parent.iterdir()] == [Path(KEY).name]
    finally:
        shutil.rmtree(source, ignore_errors=True)


@pytest.mark.parametrize("declared", ["", "abc", "A" * 64, "g" * 64, None])
def test_put_refuses_a_malformed_declared_sha(store, tmp_path, declared):
    path, _ = blob(tmp_path, b"bytes")
    with pytest.raises(ChecksumMismatch):
        store.put(KEY, path, declared)
    assert store.head(KEY) is None
