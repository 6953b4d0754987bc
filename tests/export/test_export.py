"""Evidence bundles: built from held segments, verified, and caught when a byte changes."""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest
from sqlalchemy import select

from camerahub.cli import main
from camerahub.config import ConfigError, load_config, parse_config
from camerahub.config.cameras import MaskRegion, Privacy
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.engine import inventory_write, open_database
from camerahub.deploy import apply_plan, plan_changes
from camerahub.export import (
    build_bundle,
    fingerprint,
    generate_key,
    load_private_key,
    load_public_key,
    public_pem,
    verify_bundle,
)
from camerahub.incidents import AlertIn, IncidentService
from camerahub.storage import FileStore
from tests.support.media import segments
from tests.support.paths import EXAMPLES

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clip_source(h264):
    return h264(16)


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


def _bundle(incident, tmp_path):
    sessions, store, inc, key = incident
    out = tmp_path / "bundle.zip"
    with sessions.begin() as s:
        manifest = build_bundle(s, store, inc, "user:kiki-sato", key, out)
    public = tmp_path / "public.pem"
    public.write_bytes(public_pem(key))
    return out, public, manifest


def _verify(capsys, *argv) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["export", "verify", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_keygen_writes_both_keys_and_prints_the_fingerprint(tmp_path, capsys):
    pem = tmp_path / "signing.pem"
    assert main(["export", "keygen", str(pem)]) == 0
    public = tmp_path / "signing.pub.pem"
    out = capsys.readouterr().out
    key = load_private_key(pem.read_bytes())
    assert load_public_key(public.read_bytes()) is not None
    assert f"fingerprint {fingerprint(key.public_key())}" in out
    assert oct(public.stat().st_mode & 0o777) == "0o644"
    assert b"PRIVATE" not in public.read_bytes()


def test_verify_exit_codes(incident, tmp_path, capsys):
    out, public, manifest = _bundle(incident, tmp_path)
    code, text = _verify(capsys, out, "--key", public)
    assert code == 0 and "OK: 1 clip(s); signature checked with trusted key" in text
    assert manifest["key_fingerprint"] in text
    other = tmp_path / "other.pem"
    other.write_bytes(public_pem(load_private_key(generate_key())))
    assert _verify(capsys, out, "--key", other)[0] == 1  # wrong key
    assert _verify(capsys, tmp_path / "missing.zip", "--key", public)[0] == 2
    not_zip = tmp_path / "not.zip"
    not_zip.write_text("hello")
    assert _verify(capsys, not_zip, "--key", public)[0] == 2
    assert _verify(capsys, out, "--key", tmp_path / "missing.pem")[0] == 2


def test_the_embedded_key_alone_is_never_plain_success(incident, tmp_path, capsys,
                                                       monkeypatch):
    out, _public, _ = _bundle(incident, tmp_path)
    monkeypatch.setenv("CAMERAHUB_CONFIG", str(tmp_path / "absent.yaml"))
    code, text = _verify(capsys, out)
    assert code == 1 and "NOT VERIFIED" in text and "--key" in text
    code, text = _verify(capsys, out, "--accept-embedded-key")
    assert code == 0 and "embedded key (accepted, untrusted)" in text


def test_a_third_party_verifies_with_openssl_and_sha256sum_alone(incident, tmp_path):
    """The README.txt procedure, run with OpenSSL and coreutils only: no camerahub."""
    import shutil
    import subprocess

    if not (shutil.which("openssl") and shutil.which("sha256sum")):
        pytest.skip("openssl and sha256sum are needed for the offline procedure")
    out, public, manifest = _bundle(incident, tmp_path)
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(folder)

    def run(*argv: str, **kw) -> str:
        return subprocess.run(argv, cwd=folder, capture_output=True, check=True, text=True,
                              **kw).stdout

    der = subprocess.run(["openssl", "pkey", "-pubin", "-in", str(public), "-outform", "DER"],
                         capture_output=True, check=True).stdout
    assert hashlib.sha256(der[-32:]).hexdigest() == manifest["key_fingerprint"]
    (folder / "manifest.sig.bin").write_bytes(
        base64.b64decode((folder / "manifest.sig").read_bytes()))
    assert "Verified Successfully" in run(
        "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(public), "-rawin",
        "-in", "manifest.json", "-sigfile", "manifest.sig.bin")
    assert ": OK" in run("sha256sum", "-c", "SHA256SUMS")
    signed = (folder / "manifest.json").read_text(encoding="utf-8")
    for line in (folder / "SHA256SUMS").read_text().splitlines():
        assert line.split()[0] in signed
    # and a changed clip is caught by the same tools
    clip = folder / manifest["clips"][0]["file"]
    clip.write_bytes(clip.read_bytes()[:-1] + b"\x00")
    with pytest.raises(subprocess.CalledProcessError):
        run("sha256sum", "-c", "SHA256SUMS")


def test_sha256sums_must_match_the_signed_manifest(incident, tmp_path, capsys):
    out, public, _ = _bundle(incident, tmp_path)
    _flip(out, "SHA256SUMS")
    code, text = _verify(capsys, out, "--key", public)
    assert code == 1 and "SHA256SUMS does not match" in text


def test_a_trusted_public_key_configured_on_a_verifying_machine(incident, tmp_path, capsys):
    """A machine that only verifies holds the public key in its YAML, never the private."""
    out, public, manifest = _bundle(incident, tmp_path)
    other = tmp_path / "other.pub.pem"
    other.write_bytes(public_pem(load_private_key(generate_key())))

    def config(name: str, key: str) -> Path:
        path = tmp_path / name
        path.write_text((EXAMPLES / "minimal.yaml").read_text(encoding="utf-8")
                        + f"export: {{trusted_public_key_file: {key}}}\n", encoding="utf-8")
        return path

    code, text = _verify(capsys, out, "--config", config("right.yaml", public.name))
    assert code == 0 and "signature checked with trusted key" in text  # relative to the YAML
    assert manifest["key_fingerprint"] in text
    assert _verify(capsys, out, "--config", config("wrong.yaml", str(other)))[0] == 1
    code, text = _verify(capsys, out, "--config", config("gone.yaml", "absent.pub.pem"))
    assert code == 2 and "absent.pub.pem" in text


SCREEN = MaskRegion(x=0.05, y=0.55, w=0.6, h=0.35, label="住民情報端末の画面")


def _decoded(zip_path, member) -> list:
    with zipfile.ZipFile(zip_path) as zf, av.open(io.BytesIO(zf.read(member))) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def test_a_disclosure_export_is_masked_and_says_so(incident, tmp_path):
    sessions, store, inc, key = incident
    keys_before = sorted(store.iter_keys(""))
    hashes_before = {k: store.head(k).sha256 for k in keys_before}
    plain, masked = tmp_path / "plain.zip", tmp_path / "masked.zip"
    with sessions.begin() as s:
        original = build_bundle(s, store, inc, "user:kiki-sato", key, plain)
    with sessions.begin() as s:
        manifest = build_bundle(s, store, inc, "user:kiki-sato", key, masked,
                                privacy={"hq-1f-koseki-01": Privacy(masks=[SCREEN])})
    assert verify_bundle(masked, key.public_key()).ok
    (clip,) = manifest["clips"]
    assert manifest["disclosure"] == {"masked": True, "unmasked_reason": None,
                                      "masks_applied": ["hq-1f-koseki-01"]}
    assert clip["masked"]["regions"] == [SCREEN.model_dump(exclude_none=True)]
    assert clip["masked"]["original_sha256"] == original["clips"][0]["sha256"]
    before, after = _decoded(plain, clip["file"]), _decoded(masked, clip["file"])
    assert len(before) == len(after) == 16 * 15
    height, width = before[0].shape[:2]
    x0, y0 = int(SCREEN.x * width), int(SCREEN.y * height)
    x1, y1 = int((SCREEN.x + SCREEN.w) * width), int((SCREEN.y + SCREEN.h) * height)
    keep = np.ones((height, width), bool)
    keep[y0 - 32:y1 + 32, max(0, x0 - 32):x1 + 32] = False  # the region, widened, and a block
    for a, b in zip(before, after, strict=True):
        region = b[y0:y1, x0:x1]
        assert int(region.max()) - int(region.min()) <= 6  # one flat colour, every frame
        mse = float(np.mean((a[keep].astype(float) - b[keep].astype(float)) ** 2))
        assert mse == 0 or 10 * np.log10(255 ** 2 / mse) >= 32  # the rest as recorded
    # the stored originals are untouched
    assert sorted(store.iter_keys("")) == keys_before
    assert {k: store.head(k).sha256 for k in keys_before} == hashes_before
    with sessions() as s:
        entry = s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "export")
                          .order_by(m.AuditEntry.seq.desc())).first()
        assert entry.detail["masked"] is True and entry.detail["unmasked"] is False


def test_an_unmasked_export_states_its_reason_everywhere(incident, tmp_path):
    sessions, store, inc, key = incident
    out = tmp_path / "unmasked.zip"
    why = "裁判所の送付嘱託（原本の提出が必要）"
    with sessions.begin() as s:
        manifest = build_bundle(s, store, inc, "user:kiki-sato", key, out,
                                privacy={"hq-1f-koseki-01": Privacy(masks=[SCREEN])},
                                unmasked_reason=why)
    assert manifest["disclosure"] == {"masked": False, "unmasked_reason": why,
                                      "masks_not_applied": ["hq-1f-koseki-01"]}
    assert "masked" not in manifest["clips"][0]
    with sessions() as s:
        entry = s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "export")).one()
        assert entry.reason == why and entry.detail["unmasked"] is True


def test_cli_unmasked_export_needs_crisis_management_and_a_reason(incident, tmp_path,
                                                                 sqlite_url, monkeypatch,
                                                                 capsys):
    sessions, store, inc, _ = incident
    pem = tmp_path / "signing.pem"
    assert main(["export", "keygen", str(pem)]) == 0
    cfg = tmp_path / "c.yaml"
    text = (EXAMPLES / "minimal.yaml").read_text(encoding="utf-8").replace(
        "room: hq-1f-koseki, address: 127.0.1.1}",
        "room: hq-1f-koseki, address: 127.0.1.1, privacy: {masks: [{x: 0.05, y: 0.55, "
        "w: 0.6, h: 0.35}]}}")
    assert "privacy" in text
    cfg.write_text(text + f"storage: {{backend: file, file: {{path: {store.root}}}}}\n"
                   + f"export: {{signing_key_file: {pem}}}\n", encoding="utf-8")
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", sqlite_url)
    base = ["export", "--incident", str(inc), "--config", str(cfg)]
    out = tmp_path / "m.zip"
    capsys.readouterr()
    assert main([*base, "--out", str(out), "--actor", "tokatsu-koseki"]) == 0
    assert "masks applied to hq-1f-koseki-01" in capsys.readouterr().out
    for refused in (["--actor", "tokatsu-koseki", "--reason", "警察からの照会"],
                    ["--actor", "kiki-sato"], ["--actor", "kiki-sato", "--reason", "x"],
                    ["--reason", "警察からの照会"]):
        assert main([*base, "--out", str(tmp_path / "no.zip"), "--unmasked", *refused]) == 2
        assert not (tmp_path / "no.zip").exists()
    assert main([*base, "--out", str(tmp_path / "u.zip"), "--unmasked", "--actor",
                 "kiki-sato", "--reason", "警察からの照会"]) == 0
    assert "UNMASKED (警察からの照会)" in capsys.readouterr().out


def test_a_mask_outside_the_frame_is_a_config_error_naming_the_path():
    text = (EXAMPLES / "minimal.yaml").read_text(encoding="utf-8").replace(
        "room: hq-1f-koseki, address: 127.0.1.2}",
        "room: hq-1f-koseki, address: 127.0.1.2, privacy: {masks: [{x: 0.5, y: 0, "
        "w: 0.6, h: 0.2}]}}")
    with pytest.raises(ConfigError) as err:
        parse_config(text, "m.yaml")
    assert any(i.path.startswith("cameras[1].privacy.masks[0]") and "outside" in i.message
               for i in err.value.issues), err.value.issues
