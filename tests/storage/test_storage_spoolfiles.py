"""SpoolSink on its own: names, the open sidecar before the first byte, the commit, abandon."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from camerahub.storage import InvalidKey, Spool, SpoolItem, SpoolSink

START = datetime(2026, 11, 26, 3, 15, 0, 250_000, tzinfo=UTC)
FACTS = {"duration_ms": 2000, "frames": 30, "keyframes": 2, "codec": "h264", "width": 320,
         "height": 240}


def test_begin_names_the_file_and_writes_the_open_sidecar_first(tmp_path):
    sink = SpoolSink(tmp_path)
    first = sink.begin("cam-1", "hq", START, "ts")
    second = sink.begin("cam-1", "hq", START, "ts")  # same start: a reconnect within 1 ms
    assert first.path == tmp_path / "incoming" / "hq~cam-1~20261126T031500.250Z.ts"
    assert second.path.name == "hq~cam-1~20261126T031500.250Z~1.ts"
    assert first.path.stat().st_size == 0
    opened = json.loads((tmp_path / "incoming" / "hq~cam-1~20261126T031500.250Z.open.json")
                        .read_text())
    assert opened == {"camera_id": "cam-1", "site": "hq", "start_utc": "2026-11-26T03:15:00.250Z",
                      "ext": "ts"}
    for file in (first, second):
        sink.abandon(file)


def test_commit_publishes_sidecar_and_segment_and_drops_the_open_sidecar(tmp_path):
    sink = SpoolSink(tmp_path)
    file = sink.begin("cam-1", "hq", START, "ts")
    payload = b"\x47" + bytes(187)
    for _ in range(3):
        file.write(payload)
    item = sink.commit(file, **FACTS)
    assert item.path == tmp_path / "ready" / file.path.name and item.path.exists()
    assert item.sha256 == hashlib.sha256(payload * 3).hexdigest() and item.bytes == 3 * 188
    assert (item.start_utc, item.end_utc) == (START, START + timedelta(seconds=2))
    assert list((tmp_path / "incoming").iterdir()) == []
    assert Spool(tmp_path).load(item.path) == item
    assert json.loads(item.path.with_suffix(".json").read_text()) == item.to_json()


def test_abandoned_segment_is_finalized_by_recovery_with_the_same_sidecar(tmp_path):
    sink = SpoolSink(tmp_path)
    file = sink.begin("cam-1", "hq", START, "ts")
    file.write(b"\x47" + bytes(187))
    sink.abandon(file)
    assert file.path.exists() and file.path.with_name(
        file.path.stem + ".open.json").exists()  # left for recovery

    report = Spool(tmp_path).recover(lambda _: SimpleNamespace(playable=True, **FACTS))

    assert [p.name for p in report.finalized] == [file.path.name]
    (item,) = Spool(tmp_path).ready_items()
    assert item == SpoolItem("cam-1", "hq", START, 2000, tmp_path / "ready" / file.path.name,
                             188, hashlib.sha256(b"\x47" + bytes(187)).hexdigest(),
                             30, 2, "h264", 320, 240, "ts")


@pytest.mark.parametrize(("camera", "site", "ext"),
                         [("../x", "hq", "ts"), ("cam-1", "h/q", "ts"), ("cam-1", "hq", "mkv")])
def test_names_that_cannot_be_files_or_keys_are_refused(tmp_path, camera, site, ext):
    with pytest.raises(InvalidKey):
        SpoolSink(tmp_path).begin(camera, site, START, ext)
    assert list((tmp_path / "incoming").iterdir()) == []
