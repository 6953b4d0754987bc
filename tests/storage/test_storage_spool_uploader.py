"""Spool and uploader with real segments: ordering, outages, recovery, alarms, idempotence."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from datetime import UTC, datetime

import pytest

from camerahub.storage import (
    FileStore,
    RetryPolicy,
    S3Store,
    Spool,
    StorageUnavailable,
    Uploader,
    segment_key,
)
from camerahub.storage.s3store import make_client
from camerahub.video import (
    Segmenter,
    SegmenterConfig,
    StreamEnded,
    probe_segment,
    salvage_segment,
)
from tests.support.media import ffmpeg_errors
from tests.support.s3 import MotoS3

START = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
FAST_RETRY = RetryPolicy(initial_s=0.05, max_s=0.3)
WAIT_S = 60  # generous: the event normally fires in well under a second


def record_into(spool_root, h264_input):
    """Segment 12 s of real H.264 into 2 s segments in a spool; return their infos."""
    infos = []
    config = SegmenterConfig(segment_seconds=2, drift_threshold_s=None)
    segmenter = Segmenter("hq-1f-koseki-01", "hq", Spool(spool_root).sink(), infos.append,
                          config, clock=lambda: START)
    with pytest.raises(StreamEnded):
        segmenter.record(str(h264_input))
    return infos


class Recorder:
    """Collects on_uploaded calls and signals when `expected` have arrived."""

    def __init__(self, expected: int, fail_first: int = 0) -> None:
        self.calls: list[tuple] = []
        self.expected, self.fail_first = expected, fail_first
        self.done = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, item, key, sha256) -> None:
        with self.lock:
            if self.fail_first:
                self.fail_first -= 1
                raise RuntimeError("index database briefly unavailable")
            self.calls.append((item, key, sha256))
            if len(self.calls) >= self.expected:
                self.done.set()


@pytest.fixture
def spool_and_infos(tmp_path, h264_input):
    """A spool holding six real 2 s segments in ready/."""
    infos = record_into(tmp_path / "spool", h264_input)
    assert len(infos) == 6
    return Spool(tmp_path / "spool"), infos


def run_uploader(spool, store, recorder, workers=1, **kwargs) -> Uploader:
    """Start an uploader; the caller stops it."""
    uploader = Uploader(spool, store, recorder, workers=workers, retry=FAST_RETRY, **kwargs)
    uploader.start()
    return uploader


def upload_all_but_one(spool, store) -> tuple[Recorder, list]:
    """Upload the six segments, one of which is refused: (recorder, [(item, reason)])."""
    recorder, refused = Recorder(expected=5), []
    uploader = run_uploader(spool, store, recorder,
                            on_quarantine=lambda item, why: refused.append((item, why)))
    try:
        assert recorder.done.wait(WAIT_S) and uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    return recorder, refused


def test_uploads_oldest_first_and_frees_the_spool(spool_and_infos, tmp_path):
    spool, infos = spool_and_infos
    store = FileStore(tmp_path / "store")
    recorder = Recorder(expected=6)
    uploader = run_uploader(spool, store, recorder)
    try:
        assert recorder.done.wait(WAIT_S)
        assert uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    keys = [key for _, key, _ in recorder.calls]
    expected = [segment_key("hq", "hq-1f-koseki-01", i.start_utc, i.duration_ms, "ts")
                for i in infos]
    assert keys == expected  # oldest first, and the key is the contract format
    for info, (item, key, sha) in zip(infos, recorder.calls, strict=True):
        assert store.head(key).sha256 == sha == info.sha256 == item.sha256
    assert list(spool.ready.iterdir()) == []


def test_s3_outage_mid_upload_loses_and_duplicates_nothing(spool_and_infos):
    spool, infos = spool_and_infos
    s3 = MotoS3().start()
    bucket = s3.new_bucket(object_lock=True)  # versioned: a second upload would show
    store = S3Store(s3.settings(bucket))
    retries, outage_seen = [], threading.Event()

    def on_retry(item, exc, delay):
        retries.append(exc)
        if len(retries) >= 3:
            outage_seen.set()

    recorder = Recorder(expected=6)
    first_upload = threading.Event()

    def on_uploaded(item, key, sha):
        recorder(item, key, sha)
        if not first_upload.is_set():
            first_upload.set()
            s3.stop()  # the outage begins right after the first segment landed

    uploader = run_uploader(spool, store, on_uploaded, workers=2, on_retry=on_retry)
    try:
        assert outage_seen.wait(WAIT_S)
        assert all(isinstance(exc, StorageUnavailable) for exc in retries)
        waiting = {p.name for p in spool.ready.glob("*.ts")}
        assert len(waiting) >= 4  # still spooled during the outage, nothing dropped
        s3.start()  # same port, same in-process buckets
        assert recorder.done.wait(WAIT_S)
        assert uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    versions = make_client(s3.settings(bucket)).list_object_versions(Bucket=bucket)
    s3.stop()
    keys = sorted(v["Key"] for v in versions["Versions"])
    assert keys == sorted(i.key for i, _, _ in recorder.calls)
    assert len(keys) == len(set(keys)) == 6  # one version each: nothing uploaded twice
    assert list(spool.ready.iterdir()) == []


def test_index_callback_failure_keeps_the_segment_and_retries(spool_and_infos, tmp_path):
    spool, _ = spool_and_infos
    store = FileStore(tmp_path / "store")
    recorder = Recorder(expected=6, fail_first=2)
    uploader = run_uploader(spool, store, recorder)
    try:
        assert recorder.done.wait(WAIT_S)
        assert uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    assert len({key for _, key, _ in recorder.calls}) == 6
    assert list(spool.ready.iterdir()) == []


def test_conflicting_object_is_quarantined_not_overwritten(spool_and_infos, tmp_path):
    spool, infos = spool_and_infos
    store = FileStore(tmp_path / "store")
    other = tmp_path / "other.ts"
    other.write_bytes(b"different evidence")
    store.put(_key(infos[0]), other,
              hashlib.sha256(b"different evidence").hexdigest())
    recorder = Recorder(expected=5)
    uploader = run_uploader(spool, store, recorder)
    try:
        assert recorder.done.wait(WAIT_S)
        assert uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    assert (spool.quarantine_dir / infos[0].path.name).read_bytes()[:1] == b"G"  # TS sync
    assert "ObjectConflict" in (spool.quarantine_dir / f"{infos[0].path.stem}.reason.txt"
                                ).read_text()
    with store.open(_key(infos[0])) as body:
        assert body.read() == b"different evidence"


def test_segment_cut_short_is_refused_before_upload(spool_and_infos, tmp_path):
    """Whatever put a partial TS packet in ready/ (a torn copy, a bug, a bad recovery), it is
    never uploaded or indexed: quarantined with the reason."""
    spool, infos = spool_and_infos
    victim = infos[2]
    data = victim.path.read_bytes()[:-100]
    victim.path.write_bytes(data)
    sidecar = victim.path.with_suffix(".json")
    facts = json.loads(sidecar.read_text())
    facts.update(bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
    sidecar.write_text(json.dumps(facts))
    store = FileStore(tmp_path / "store")
    recorder, refused = upload_all_but_one(spool, store)
    assert [item.path.name for item, _ in refused] == [victim.path.name]
    assert "188" in refused[0][1]
    assert "188" in (spool.quarantine_dir / f"{victim.path.stem}.reason.txt").read_text()
    assert _key(victim) not in set(store.iter_keys())
    assert {k for _, k, _ in recorder.calls} == {_key(i) for i in infos if i is not victim}


@pytest.mark.parametrize("backend", ["file", "s3-unchecked"])
def test_a_segment_changed_after_sealing_is_hashed_again_and_refused(
        spool_and_infos, tmp_path, backend, request):
    """Segments the spool hashed as it wrote them are not read again to check them, unless
    the file changed since: one byte rewritten in place (same size) in ready/ is caught by
    the store's own hash, whether FileStore or an S3 store that checks nothing itself."""
    spool, infos = spool_and_infos
    assert all(i.sealed and i.unchanged_since_sealed() for i in infos)
    victim = infos[3]
    with open(victim.path, "r+b") as f:  # bit rot, or anything writing where it must not
        f.seek(victim.bytes // 2)
        byte = f.read(1)
        f.seek(victim.bytes // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    item = spool.ready_items()[3]
    assert item.sealed == victim.sealed and not item.unchanged_since_sealed()
    if backend == "file":
        store = FileStore(tmp_path / "store")
    else:
        moto = request.getfixturevalue("moto_s3")
        store = S3Store(moto.settings(moto.new_bucket()))
        assert not store.capabilities().validates_checksums  # moto: we are the verifier
    recorder, refused = upload_all_but_one(spool, store)
    assert [(i.path.name, "ChecksumMismatch" in why) for i, why in refused] == [
        (victim.path.name, True)]
    assert _key(victim) not in set(store.iter_keys())
    assert {k for _, k, _ in recorder.calls} == {_key(i) for i in infos if i is not victim}


def test_segments_refused_by_admit_or_by_the_index_are_quarantined(spool_and_infos, tmp_path):
    from camerahub.storage import SegmentRefused

    spool, infos = spool_and_infos
    store = FileStore(tmp_path / "store")
    recorder = Recorder(expected=4)

    def on_uploaded(item, key, sha):
        if item.path.name == infos[4].path.name:
            raise SegmentRefused("overlaps an indexed segment")
        recorder(item, key, sha)

    uploader = run_uploader(
        spool, store, on_uploaded,
        admit=lambda item: "refused by admit" if item.path.name == infos[1].path.name else None)
    try:
        assert recorder.done.wait(WAIT_S) and uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    reasons = {p.name: p.read_text() for p in spool.quarantine_dir.glob("*.reason.txt")}
    assert set(reasons) == {f"{infos[1].path.stem}.reason.txt",
                            f"{infos[4].path.stem}.reason.txt"}
    assert "refused by admit" in reasons[f"{infos[1].path.stem}.reason.txt"]
    assert _key(infos[1]) not in set(store.iter_keys())  # refused before the put
    assert list(spool.ready.iterdir()) == []  # nothing retried forever


def _key(info) -> str:
    """The object key of a SpoolItem."""
    return segment_key(info.site, info.camera_id, info.start_utc, info.duration_ms, info.ext)


def test_spool_alarm_fires_once_and_recovers_once(spool_and_infos, tmp_path):
    spool_root = spool_and_infos[0].root
    total = sum(p.stat().st_size for p in (spool_root / "ready").iterdir())
    alarms = []
    spool = Spool(spool_root, limit_bytes=total // 2, on_alarm=alarms.append)
    for _ in range(3):
        spool.check_limit()
    assert [a.state for a in alarms] == ["over_limit"]
    assert len(list(spool.ready.glob("*.ts"))) == 6  # nothing deleted to make room
    recorder = Recorder(expected=6)
    uploader = run_uploader(spool, FileStore(tmp_path / "store"), recorder)
    try:
        assert recorder.done.wait(WAIT_S)
        assert uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    assert [a.state for a in alarms] == ["over_limit", "recovered"]


def crash_leftovers(spool: Spool, infos) -> dict[str, str]:
    """Recreate what kill -9 leaves behind; returns stem -> expected fate."""
    fates = {}
    for info, fate in zip(infos, ["truncated", "garbage", "no_open", "commit", "ready"],
                          strict=False):
        stem, data = info.path.stem, info.path.read_bytes()
        opened = {"camera_id": info.camera_id, "site": info.site,
                  "start_utc": info.to_json()["start_utc"], "ext": "ts"}
        if fate != "ready":
            info.path.unlink()
        if fate in ("truncated", "garbage", "no_open"):
            info.path.with_suffix(".json").unlink()
        payload = {"truncated": data[: len(data) // 2 + 77], "garbage": b"\x47" * 4000,
                   "no_open": data, "commit": data}.get(fate)
        if payload is not None:
            (spool.incoming / f"{stem}.ts").write_bytes(payload)
        if fate in ("truncated", "garbage", "commit"):
            (spool.incoming / f"{stem}.open.json").write_text(json.dumps(opened))
        fates[stem] = fate
    (spool.incoming / "hq~x~20261126T000000.000Z.open.json").write_text("{}")  # orphan
    (spool.ready / ".partial.json.tmp").write_text("{")
    return fates


def test_recover_finalizes_playable_and_quarantines_corrupt(spool_and_infos, tmp_path):
    spool, infos = spool_and_infos
    for info in infos[5:]:  # keep five segments for the scenario
        info.path.unlink()
        info.path.with_suffix(".json").unlink()
    fates = crash_leftovers(spool, infos[:5])
    report = spool.recover(salvage_segment)  # the probe the recorder hands in
    by_fate = {fate: stem for stem, fate in fates.items()}
    assert {p.stem for p in report.quarantined} == {by_fate["garbage"], by_fate["no_open"]}
    assert {p.stem for p in report.finalized} == {by_fate["truncated"], by_fate["commit"]}
    assert {p.stem for p in report.requeued} == {by_fate["truncated"], by_fate["commit"],
                                                 by_fate["ready"]}
    assert list(spool.incoming.iterdir()) == []
    assert not list(spool.ready.glob(".*"))
    truncated = spool.load(spool.ready / f"{by_fate['truncated']}.ts")
    assert 0 < truncated.duration_ms < infos[0].duration_ms
    assert truncated.sha256 == hashlib.sha256(truncated.path.read_bytes()).hexdigest()
    # what is finalized is whole TS packets that decode to the last frame; the cut-off
    # tail is kept in quarantine, not lost
    assert truncated.bytes % 188 == 0 and ffmpeg_errors(truncated.path) == ""
    assert [p.name for p in report.trimmed] == [f"{by_fate['truncated']}.tail.bin"]

    store = FileStore(tmp_path / "store")
    recorder = Recorder(expected=3)
    uploader = run_uploader(spool, store, recorder)
    try:
        assert recorder.done.wait(WAIT_S)
        assert uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    uploaded = {item.path.stem for item, _, _ in recorder.calls}
    assert uploaded == {by_fate["truncated"], by_fate["commit"], by_fate["ready"]}
    assert len(list(store.iter_keys())) == 3  # nothing corrupt was uploaded


def test_requeued_segment_already_in_the_bucket_is_not_uploaded_twice(
    spool_and_infos, moto_s3, tmp_path
):
    spool, infos = spool_and_infos
    bucket = moto_s3.new_bucket(object_lock=True)  # versioned, so a re-upload would show
    store = S3Store(moto_s3.settings(bucket))
    backup = tmp_path / "backup"
    shutil.copytree(spool.ready, backup)
    recorder = Recorder(expected=6)
    uploader = run_uploader(spool, store, recorder)
    assert recorder.done.wait(WAIT_S) and uploader.wait_idle(WAIT_S)
    uploader.stop()
    # A crash after the upload but before the spool file was deleted: the file is back.
    shutil.copytree(backup, spool.ready, dirs_exist_ok=True)
    assert spool.recover(probe_segment).requeued
    again = Recorder(expected=6)
    uploader = run_uploader(spool, store, again)
    try:
        assert again.done.wait(WAIT_S) and uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    versions = make_client(moto_s3.settings(bucket)).list_object_versions(Bucket=bucket)
    assert len(versions["Versions"]) == 6
    assert sorted(k for _, k, _ in again.calls) == sorted(_key(i) for i in infos)


def test_segmenter_callback_feeds_the_uploader_while_recording(tmp_path, h264_input):
    spool = Spool(tmp_path / "spool")
    store = FileStore(tmp_path / "store")
    recorder = Recorder(expected=6)
    uploader = run_uploader(spool, store, recorder, workers=2)
    infos = []

    def on_segment(info):
        infos.append(info)
        uploader.notify(info.path)

    config = SegmenterConfig(segment_seconds=2, drift_threshold_s=None)
    segmenter = Segmenter("hq-1f-koseki-01", "hq", spool.sink(), on_segment, config)
    try:
        with pytest.raises(StreamEnded):
            segmenter.record(str(h264_input))
        assert recorder.done.wait(WAIT_S) and uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    assert sorted(store.iter_keys()) == sorted(_key(i) for i in infos)
    assert len(recorder.calls) == 6


def test_retry_delays_grow_exponentially_and_are_capped():
    policy = RetryPolicy(initial_s=1, max_s=8, factor=2, jitter=0.25)
    for attempt, nominal in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 8), (30, 8)]:
        for _ in range(50):
            assert nominal * 0.75 <= policy.delay(attempt) <= nominal * 1.25


def test_admission_check_failing_is_retried_not_dropped(spool_and_infos, tmp_path):
    """The admit callback failing (the index's database restarting) retries the segment
    with backoff; before, the segment left the queue until the next idle rescan (30 s by
    default, never while other segments keep coming) and waited in the spool meanwhile."""
    spool, infos = spool_and_infos
    store = FileStore(tmp_path / "store")
    recorder = Recorder(expected=6)
    failures = {"left": 3}

    def admit(item):
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("server closed the connection unexpectedly")
        return None

    uploader = run_uploader(spool, store, recorder, admit=admit, rescan_s=3600)
    try:
        assert recorder.done.wait(WAIT_S) and uploader.wait_idle(WAIT_S)
    finally:
        uploader.stop()
    assert failures["left"] == 0
    assert sorted(store.iter_keys()) == sorted(_key(i) for i in infos)
    assert not spool.ready_items()
