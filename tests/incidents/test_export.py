"""Evidence bundles: built from held segments, verified, and caught when a byte changes."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta

import av
import pytest
from sqlalchemy import select

from camerahub.cli import main
from camerahub.config import load_config
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from camerahub.export import build_bundle, generate_key, load_private_key, verify_bundle
from camerahub.incidents import AlertIn, IncidentService
from camerahub.storage import FileStore
from tests.conftest import EXAMPLES
from tests.support.media import encode, segments

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clip_source(tmp_path_factory):
    return encode(tmp_path_factory.mktemp("src") / "in.ts", 16)


@pytest.fixture
def incident(sqlite_url, tmp_path, clip_source):
    """An alert incident whose holds cover 16 s of real segments of hq-1f-koseki-01."""
    cfg = load_config(EXAMPLES / "minimal.yaml")
    _, sessions = open_database(sqlite_url)
    with inventory_write(sessions) as s:
        apply_plan(s, plan_changes(s, cfg), "x", "t")
    store = FileStore(tmp_path / "store")
    start = T0 + timedelta(minutes=20)
    for info in segments(clip_source, tmp_path / "spool", "hq-1f-koseki-01", "hq", start):
        key = f"hq/hq-1f-koseki-01/{info.start_utc:%Y%m%dT%H%M%S.%f}.ts"
        store.put(key, info.path, info.sha256)
        with sessions.begin() as s:
            index.add_segment(s, camera_id="hq-1f-koseki-01", site_id="hq",
                              start=info.start_utc, end=info.end_utc, nbytes=info.bytes,
                              sha256=info.sha256, key=key)
    alert = AlertIn(alert_id="A-9", rule="r", employee_id="E1", terminal_id="T-KOSEKI-01",
                    window={"start": start, "end": start + timedelta(seconds=10)})
    inc = IncidentService(cfg, sessions).ingest_alert("log-analyzer", alert).incident_id
    key = load_private_key(generate_key())
    return sessions, store, inc, key


def _flip(path, member):
    """Rewrite the zip with one byte of `member` changed."""
    with zipfile.ZipFile(path) as zf:
        items = {n: zf.read(n) for n in zf.namelist()}
    data = bytearray(items[member])
    data[len(data) // 2] ^= 0x01
    items[member] = bytes(data)
    with zipfile.ZipFile(path, "w") as zf:
        for name, body in items.items():
            zf.writestr(name, body)


def test_bundle_verifies_and_holds_a_playable_clip(incident, tmp_path):
    sessions, store, inc, key = incident
    out = tmp_path / "bundle.zip"
    with sessions.begin() as s:
        manifest = build_bundle(s, store, inc, "user:kiki-sato", key, out)
    (clip,) = manifest["clips"]
    assert len(clip["segments"]) == 4 and clip["camera"] == "hq-1f-koseki-01"
    report = verify_bundle(out, key.public_key())
    assert report.ok and report.trusted_key and report.clips == 1, report.problems
    with zipfile.ZipFile(out) as zf, av.open(io.BytesIO(zf.read(clip["file"]))) as c:
        frames = sum(1 for _ in c.decode(video=0))
    assert frames == 16 * 15  # every frame of the 16 s held footage
    with sessions() as s:
        (entry,) = s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "export"))
        assert entry.actor == "user:kiki-sato" and entry.incident_id == inc
        # the entry names what footage left: each camera's range, and the whole span
        assert entry.detail["ranges"] == [{"camera": "hq-1f-koseki-01", "start": clip["start"],
                                           "end": clip["end"]}]
        assert entry.footage_start.isoformat() == clip["start"]
        assert entry.footage_end.isoformat() == clip["end"]
        assert entry.camera_id == "hq-1f-koseki-01"


@pytest.mark.parametrize("member", ["clips/hq-1f-koseki-01.mp4", "manifest.json",
                                    "manifest.sig"])
def test_one_flipped_byte_fails_verification(incident, tmp_path, member):
    sessions, store, inc, key = incident
    out = tmp_path / "bundle.zip"
    with sessions.begin() as s:
        build_bundle(s, store, inc, "user:kiki-sato", key, out)
    _flip(out, member)
    report = verify_bundle(out, key.public_key())
    assert not report.ok and report.problems


def test_another_key_is_not_trusted(incident, tmp_path):
    sessions, store, inc, key = incident
    out = tmp_path / "bundle.zip"
    with sessions.begin() as s:
        build_bundle(s, store, inc, "user:kiki-sato", key, out)
    other = load_private_key(generate_key()).public_key()
    assert verify_bundle(out, other).problems == ["signature does not match manifest.json"]
    assert not verify_bundle(tmp_path / "missing.zip").ok


def test_cli_export_and_verify(incident, tmp_path, sqlite_url, monkeypatch, capsys):
    sessions, store, inc, key = incident
    pem = tmp_path / "signing.pem"
    assert main(["export", "keygen", str(pem)]) == 0
    assert oct(pem.stat().st_mode & 0o777) == "0o600"
    assert main(["export", "keygen", str(pem)]) == 2  # never overwrite a key
    cfg = tmp_path / "c.yaml"
    cfg.write_text((EXAMPLES / "minimal.yaml").read_text(encoding="utf-8")
                   + f"storage: {{backend: file, file: {{path: {store.root}}}}}\n"
                   + f"export: {{signing_key_file: {pem}}}\n", encoding="utf-8")
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", sqlite_url)
    out = tmp_path / "e.zip"
    assert main(["export", "--incident", str(inc), "--out", str(out), "--config", str(cfg),
                 "--actor", "kiki-sato"]) == 0
    assert main(["export", "verify", str(out), "--config", str(cfg)]) == 0
    assert "OK: 1 clip(s); signature checked with trusted key" in capsys.readouterr().out
    _flip(out, "clips/hq-1f-koseki-01.mp4")
    assert main(["export", "verify", str(out), "--config", str(cfg)]) == 1
    assert "does not match its SHA-256" in capsys.readouterr().out
    assert main(["export", "--incident", "999", "--config", str(cfg)]) == 2
