"""An evidence bundle is one zip: clips, a manifest of every source segment, and a signature.

manifest.json lists the incident, its alerts and holds, and per camera the clip's SHA-256
and every source segment's key, time range and SHA-256, plus the chain of custody. The
manifest's exact bytes are signed with Ed25519 (manifest.sig). Verification recomputes
every clip hash and checks the signature against a trusted public key; the key embedded
in the bundle is only used when no trusted key is given, and the report says so.
"""

from __future__ import annotations

import base64
import hashlib
import json
import platform
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from camerahub import __version__, audit
from camerahub.config.cameras import Privacy
from camerahub.db import models as m
from camerahub.recordings import FootageError, clip_chunks, plan_clip
from camerahub.storage import SegmentStore
from camerahub.video import VideoError
from camerahub.video.mask import Region, mask_clip

FORMAT = "camerahub-evidence/1"
MAX_BUNDLE_MEMBER = 4 << 30


class BundleError(Exception):
    """The bundle cannot be built, or it is not a valid camerahub bundle."""


@dataclass
class VerifyReport:
    """Outcome of verifying a bundle; ok only when every check passed."""

    ok: bool
    problems: list[str] = field(default_factory=list)
    key_fingerprint: str | None = None
    trusted_key: bool = False
    clips: int = 0


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public key as PEM (SubjectPublicKeyInfo): what a verifier is handed."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def generate_key() -> bytes:
    """A new Ed25519 private key as PEM (PKCS#8, unencrypted: protect the file)."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def load_private_key(pem: str | bytes) -> Ed25519PrivateKey:
    """Parse a PEM Ed25519 private key, or raise BundleError."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise BundleError(f"signing key is not a PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError("signing key must be Ed25519")
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """Parse a PEM Ed25519 public key (or derive it from a private key PEM)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        return load_private_key(pem).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError("public key must be Ed25519")
    return key


def _raw(pub: Ed25519PublicKey) -> bytes:
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(pub: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: what people compare out of band."""
    return hashlib.sha256(_raw(pub)).hexdigest()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _incident_json(s: Session, incident: m.Incident) -> dict:
    alerts = s.scalars(select(m.Alert).where(m.Alert.incident_id == incident.id)
                       .order_by(m.Alert.id)).all()
    holds = s.scalars(select(m.Hold).where(m.Hold.incident_id == incident.id)
                      .order_by(m.Hold.id)).all()
    return {
        "id": incident.id, "kind": incident.kind, "state": incident.state,
        "room": incident.room_id, "employee": incident.employee_id,
        "window_start": _iso(incident.window_start), "window_end": _iso(incident.window_end),
        "reason": incident.reason, "outcome": incident.outcome,
        "opened_by": incident.opened_by, "created_at": _iso(incident.created_at),
        "alerts": [{"source": a.source_id, "alert_id": a.alert_id, "rule": a.rule,
                    "employee": a.employee_id, "terminal": a.terminal_id,
                    "window_start": _iso(a.window_start), "window_end": _iso(a.window_end),
                    "severity": a.severity, "text": a.text,
                    "received_at": _iso(a.received_at)} for a in alerts],
        "holds": [{"camera": h.camera_id, "start": _iso(h.start), "end": _iso(h.end),
                   "created_by": h.created_by, "released_at": _iso(h.released_at)}
                  for h in holds],
    }


def _clip(store: SegmentStore, s: Session, camera_id: str, start: datetime,
          end: datetime) -> tuple[bytes, dict] | None:
    try:
        plan = plan_clip(s, camera_id, start, end)
    except FootageError as exc:
        if exc.kind == "not_found":
            return None
        raise
    data = b"".join(clip_chunks(store, plan))
    entry = {"camera": camera_id, "file": f"clips/{camera_id}.mp4",
             "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
             "start": _iso(start), "end": _iso(end),
             "segments": [{"key": x.key, "start": _iso(x.start), "end": _iso(x.end),
                           "sha256": x.sha256, "bytes": x.bytes} for x in plan.segments]}
    return data, entry


def build_bundle(s: Session, store: SegmentStore, incident_id: int, actor: str,
                 key: Ed25519PrivateKey, out: Path, cameras: Sequence[str] | None = None,
                 client: str | None = None, privacy: Mapping[str, Privacy] | None = None,
                 unmasked_reason: str | None = None) -> dict:
    """Write the bundle for an incident's held footage to `out`; returns the manifest.

    Its `export` audit entry names each camera's exported time range, and the whole span in
    footage_start/footage_end, so a review sees what footage left without opening the zip.
    Clips of cameras with privacy masks (`privacy`, by camera id) are re-encoded with them
    applied, unless `unmasked_reason` is given (the caller checked the role): then the
    originals go out and the manifest and the audit entry say so, with the reason.
    """
    incident = s.get(m.Incident, incident_id)
    if incident is None:
        raise BundleError(f"no incident {incident_id}")
    info = _incident_json(s, incident)
    ranges = [(h["camera"], h["start"], h["end"]) for h in info["holds"]
              if cameras is None or h["camera"] in cameras]
    if not ranges:
        raise BundleError(f"incident {incident_id} holds no footage to export")
    clips, entries = {}, []
    rules = {} if unmasked_reason is not None else {
        cam: p for cam, p in (privacy or {}).items() if p.active}
    for cam, lo, hi in _merge(ranges):
        made = _clip(store, s, cam, lo, hi)
        if made and cam in rules:
            made = _masked(made, rules[cam])
        if made:
            clips[made[1]["file"]] = made[0]
            entries.append(made[1])
    if not entries:
        raise BundleError(f"incident {incident_id}: no recorded segments in its held ranges")
    disclosure = _disclosure(entries, privacy or {}, unmasked_reason)
    exported = audit.append(s, actor=actor, action="export", decision="allow",
                            incident_id=incident_id, client=client, reason=unmasked_reason,
                            footage_start=min(datetime.fromisoformat(e["start"])
                                              for e in entries),
                            footage_end=max(datetime.fromisoformat(e["end"]) for e in entries),
                            camera_id=entries[0]["camera"] if len(entries) == 1 else None,
                            detail={"cameras": [e["camera"] for e in entries],
                                    "ranges": [{"camera": e["camera"], "start": e["start"],
                                                "end": e["end"]} for e in entries],
                                    "file": out.name,
                                    "masked": disclosure["masked"],
                                    "unmasked": unmasked_reason is not None})
    manifest = _manifest(info, entries, actor, exported, key.public_key())
    manifest["disclosure"] = disclosure
    _write_zip(out, manifest, key, clips)
    return manifest


def _masked(made: tuple[bytes, dict], rule: Privacy) -> tuple[bytes, dict]:
    """The clip re-encoded with the camera's masks; the entry keeps the original's hash."""
    data, entry = made
    regions = [Region(r.x, r.y, r.w, r.h) for r in rule.masks]
    try:
        masked, report = mask_clip(data, regions, rule.blur_faces)
    except VideoError as exc:
        raise BundleError(f"{entry['camera']}: masks cannot be applied: {exc}") from None
    entry = {**entry, "sha256": hashlib.sha256(masked).hexdigest(), "bytes": len(masked),
             "masked": {"regions": [r.model_dump(exclude_none=True) for r in rule.masks],
                        "blur_faces": rule.blur_faces, "faces_blurred": report.faces,
                        "frames": report.frames, "original_sha256": entry["sha256"],
                        "original_bytes": entry["bytes"]}}
    return masked, entry


def _disclosure(entries: list[dict], privacy: Mapping[str, Privacy],
                unmasked_reason: str | None) -> dict:
    """What the manifest says about masks: applied per camera, or withheld and why."""
    configured = sorted(cam for cam, p in privacy.items() if p.active
                        and any(e["camera"] == cam for e in entries))
    if unmasked_reason is not None:
        return {"masked": False, "unmasked_reason": unmasked_reason,
                "masks_not_applied": configured}
    return {"masked": bool(configured), "unmasked_reason": None,
            "masks_applied": configured}


def _merge(ranges: list[tuple[str, str, str]]) -> list[tuple[str, datetime, datetime]]:
    """One range per camera: the union hull of its holds."""
    hull: dict[str, tuple[datetime, datetime]] = {}
    for cam, lo, hi in ranges:
        a, b = datetime.fromisoformat(lo), datetime.fromisoformat(hi)
        if cam in hull:
            a, b = min(a, hull[cam][0]), max(b, hull[cam][1])
        hull[cam] = (a, b)
    return [(cam, a, b) for cam, (a, b) in sorted(hull.items())]


def _manifest(info: dict, entries: list[dict], actor: str, entry: m.AuditEntry,
              pub: Ed25519PublicKey) -> dict:
    return {
        "format": FORMAT, "incident": info, "clips": entries,
        "custody": [{"action": "exported", "by": actor, "at": _iso(entry.at),
                     "audit_seq": entry.seq, "audit_hash": entry.hash,
                     "host": platform.node(), "tool": f"camerahub {__version__}"}],
        "public_key": base64.b64encode(_raw(pub)).decode(),
        "key_fingerprint": fingerprint(pub),
    }


def _write_zip(out: Path, manifest: dict, key: Ed25519PrivateKey, clips: dict) -> None:
    body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
    tmp = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", body)
        zf.writestr("manifest.sig", base64.b64encode(key.sign(body)) + b"\n")
        for name, data in clips.items():
            zf.writestr(name, data)
        zf.writestr("SHA256SUMS", sha256sums(manifest))
        zf.writestr("README.txt", README.format(fp=manifest["key_fingerprint"]))
    tmp.replace(out)


def sha256sums(manifest: dict) -> str:
    """`sha256sum -c` input for the clips (the same hashes the signed manifest lists)."""
    return "".join(f"{c['sha256']}  {c['file']}\n" for c in manifest["clips"])


README = """camerahub evidence bundle / 証拠映像パッケージ

検証: camerahub export verify <このファイル> --key <公開鍵.pem>
Verify: camerahub export verify <this file> --key <public key.pem>

Without camerahub (OpenSSL 3 and coreutils), in the unzipped folder:
  1. openssl pkey -pubin -in PUBLIC.pem -outform DER | tail -c 32 | sha256sum
     must print the signing key fingerprint below (compare it with the one published by
     the ward office, out of band)
  2. base64 -d manifest.sig > manifest.sig.bin
     openssl pkeyutl -verify -pubin -inkey PUBLIC.pem -rawin -in manifest.json \\
         -sigfile manifest.sig.bin          -> "Signature Verified Successfully"
  3. sha256sum -c SHA256SUMS                -> every clip "OK"
  4. each hash in SHA256SUMS also appears in manifest.json (grep it): the signature
     covers manifest.json, which lists every clip's SHA-256 and each source segment.

Privacy masks / 画面等のマスク: manifest.json "disclosure" says which cameras' clips were
re-encoded with privacy masks (each clip's "masked" lists the regions and the original
clip's SHA-256), or that the bundle is unmasked and why.

Signing key fingerprint (SHA-256 of the raw public key): {fp}
"""


def _read_member(zf: zipfile.ZipFile, name: str) -> bytes:
    info = zf.getinfo(name)
    if info.file_size > MAX_BUNDLE_MEMBER:
        raise BundleError(f"{name} is larger than {MAX_BUNDLE_MEMBER} bytes")
    return zf.read(name)


def verify_bundle(path: Path, trusted: Ed25519PublicKey | None = None) -> VerifyReport:
    """Check signature, manifest and every clip hash; never raises on a damaged bundle."""
    try:
        with zipfile.ZipFile(path) as zf:
            return _verify(zf, trusted)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, BundleError) as exc:
        return VerifyReport(False, [f"not a readable bundle: {exc}"])


def _verify(zf: zipfile.ZipFile, trusted: Ed25519PublicKey | None) -> VerifyReport:
    body = _read_member(zf, "manifest.json")
    manifest = json.loads(body)
    if manifest.get("format") != FORMAT:
        return VerifyReport(False, [f"unknown format {manifest.get('format')!r}"])
    embedded = Ed25519PublicKey.from_public_bytes(base64.b64decode(manifest["public_key"]))
    key = trusted or embedded
    report = VerifyReport(True, key_fingerprint=fingerprint(key), trusted_key=trusted is not None)
    try:
        key.verify(base64.b64decode(_read_member(zf, "manifest.sig")), body)
    except (InvalidSignature, ValueError):
        report.problems.append("signature does not match manifest.json")
    for clip in manifest.get("clips", []):
        _check_clip(zf, clip, report)
    _check_sums(zf, manifest, report)
    expected = {"manifest.json", "manifest.sig", "README.txt", "SHA256SUMS"} | {
        c["file"] for c in manifest.get("clips", [])}
    report.problems += [f"unexpected file {n}" for n in zf.namelist() if n not in expected]
    report.ok = not report.problems
    return report


def _check_sums(zf: zipfile.ZipFile, manifest: dict, report: VerifyReport) -> None:
    """SHA256SUMS, when present, must say exactly what the signed manifest says."""
    if "SHA256SUMS" not in zf.namelist():
        return
    if _read_member(zf, "SHA256SUMS").decode("utf-8", "replace") != sha256sums(manifest):
        report.problems.append("SHA256SUMS does not match the signed manifest")


def _check_clip(zf: zipfile.ZipFile, clip: dict, report: VerifyReport) -> None:
    try:
        data = _read_member(zf, clip["file"])
    except KeyError:
        report.problems.append(f"{clip['file']} is missing")
        return
    report.clips += 1
    if hashlib.sha256(data).hexdigest() != clip["sha256"] or len(data) != clip["bytes"]:
        report.problems.append(f"{clip['file']} does not match its SHA-256 in the manifest")


def read_manifest(path: Path) -> dict:
    """The manifest of a bundle (unverified), for display."""
    with zipfile.ZipFile(path) as zf:
        return json.loads(_read_member(zf, "manifest.json"))
