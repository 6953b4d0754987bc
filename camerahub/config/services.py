"""Settings of camerahub's own services: storage, recorder, retention, API, incidents."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from .base import DisplayName, Id, Strict


class FileStorage(Strict):
    """Local directory store, the embedded default."""

    path: Path = Field(default=Path("segments"), description="Relative to the data directory")


class HoldRetention(Strict):
    """S3 Object Lock retention given to held footage, besides the legal hold."""

    mode: Literal["governance", "compliance"] = Field(
        description="governance: removable only with s3:BypassGovernanceRetention; "
                    "compliance: nobody, not even the account root, can shorten it")
    days: int = Field(ge=1, le=3650, description="Retention from the moment the hold is placed")


class S3Storage(Strict):
    """Any S3-compatible store (AWS, MinIO, Ceph RGW, Wasabi); credentials from env/profile."""

    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$")
    endpoint_url: str | None = Field(default=None, pattern=r"^https?://")
    region: str = "ap-northeast-1"
    path_style: bool = False
    sse: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None
    profile: str | None = Field(default=None, description="AWS shared-config profile name")
    hold_retention: HoldRetention | None = Field(
        default=None, description="Object Lock retention for held footage (where the bucket "
                                  "has Object Lock), in addition to the legal hold")

    @model_validator(mode="after")
    def _kms_needs_key(self) -> S3Storage:
        if self.sse == "aws:kms" and not self.kms_key_id:
            raise ValueError("sse aws:kms needs kms_key_id")
        return self


class Storage(Strict):
    """Where segments are stored."""

    backend: Literal["file", "s3"] = "file"
    file: FileStorage = Field(default_factory=FileStorage)
    s3: S3Storage | None = None

    @model_validator(mode="after")
    def _s3_needs_settings(self) -> Storage:
        if self.backend == "s3" and self.s3 is None:
            raise ValueError("backend s3 needs an s3: section with at least bucket")
        return self


class Recorder(Strict):
    """Segmenter, spool and uploader tuning."""

    segment_seconds: int = Field(default=10, ge=2, le=60)
    spool_dir: Path = Field(default=Path("spool"), description="Relative to the data directory")
    spool_limit_mb: int = Field(default=10240, ge=16)
    upload_workers: int = Field(default=4, ge=1, le=64)
    read_timeout_s: float = Field(default=10.0, ge=1, le=120)
    reconnect_min_s: float = Field(default=1.0, ge=0.1, le=60)
    reconnect_max_s: float = Field(default=60.0, ge=1, le=3600)
    engine: Literal["rtp", "pyav"] = Field(
        default="rtp",
        description="How cameras are read: rtp (camerahub's RTSP client, four reader threads "
                    "for all cameras) or pyav (FFmpeg's RTSP client, a thread per camera); "
                    "cameras that do not send H.264 are read by PyAV either way (rtsps:// "
                    "through a tunnel whose certificate camerahub has checked)")


class Retention(Strict):
    """How long footage is kept unless held."""

    default_days: int = Field(default=30, ge=1, le=3650)
    max_days: int | None = Field(
        default=None, ge=1, le=3650,
        description="Ceiling no site or camera may exceed (e.g. 14 under an ordinance); "
                    "a value above it is an error naming its path")
    sweep_interval_s: int = Field(default=3600, ge=60)


class Audit(Strict):
    """Where the audit chain's head is anchored outside the database, and how often."""

    anchor_interval_s: int = Field(
        default=300, ge=10, le=86400,
        description="Seconds between anchors of the chain head (and one at shutdown)")
    anchor_file: Path = Field(
        default=Path("audit-anchors.jsonl"),
        description="Append-only anchor log, relative to the data directory; keep a copy "
                    "off the database host")
    anchor_to_store: bool = Field(
        default=True, description="Also write each anchor to the segment store (under "
                                  "legal hold where the bucket has Object Lock)")


class Access(Strict):
    """Access rules beyond the roles (report 4 (2) イ)."""

    manager_playback: Literal["standing", "incident"] = "standing"
    manager_live: bool = False
    reason_min_length: int = Field(default=4, ge=0, le=200)


class Auth(Strict):
    """Authentication settings; the signing secret is a reference."""

    secret_env: str | None = Field(default="CAMERAHUB_SECRET_KEY")
    secret_file: Path | None = None
    token_ttl_minutes: int = Field(default=15, ge=1, le=720)
    password_min_length: int = Field(default=12, ge=8, le=128)
    password_classes: int = Field(default=3, ge=1, le=4, description="Of upper/lower/digit/symbol")
    lockout_failures: int = Field(default=5, ge=1, le=100)
    lockout_minutes: int = Field(default=15, ge=1, le=1440)


class Mqtt(Strict):
    """MQTT broker for notifications."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    topic_prefix: str = "camerahub"


class Incidents(Strict):
    """Alert-to-incident behaviour."""

    margin_minutes: int = Field(default=15, ge=0, le=1440)
    grant_hours: int = Field(default=72, ge=1, le=24 * 90)
    mqtt: Mqtt | None = None
    webhooks: list[str] = Field(default_factory=list)


class Webhook(Strict):
    """A webhook that receives ops alarms, signed with HMAC-SHA256 by a secret reference."""

    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2000)
    secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    secret_file: Path | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> Webhook:
        if (self.secret_env is None) == (self.secret_file is None):
            raise ValueError("give exactly one of secret_env or secret_file (never the secret)")
        return self


class Alarms(Strict):
    """Conditions ops are told about (MQTT, webhooks, the UI), and when each is raised."""

    interval_s: float = Field(default=30.0, ge=0.2, le=3600,
                              description="Seconds between evaluations")
    camera_offline_s: float = Field(default=120.0, ge=0, le=86400,
                                    description="Offline this long before it is an alarm")
    recording_stalled_s: float = Field(default=120.0, ge=0, le=86400)
    segment_late_s: float = Field(default=60.0, ge=5, le=86400,
                                  description="No stored segment this long: not recording")
    upload_lag_s: float = Field(default=900.0, ge=0, le=7 * 86400)
    clock_skew_s: float = Field(default=2.0, ge=0.1, le=86400)
    disk_free_min_ratio: float = Field(default=0.05, ge=0, le=1)
    mqtt: Mqtt | None = Field(default=None,
                              description="Broker for alarms; default: incidents.mqtt")
    webhooks: list[Webhook] = Field(default_factory=list, max_length=20)


class Export(Strict):
    """Evidence export signing key (Ed25519, PEM), by reference; the key verifiers trust."""

    signing_key_env: str | None = None
    signing_key_file: Path | None = None
    trusted_public_key_file: Path | None = Field(
        default=None, description="Public key (PEM) `export verify` checks bundles against "
                                  "when no --key is given: a verifying machine needs no "
                                  "private key")


class Api(Strict):
    """HTTP server binding; 127.0.0.1 unless a deployment says otherwise."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    tls_cert_file: Path | None = Field(
        default=None, description="PEM certificate chain; with tls_key_file, serve HTTPS")
    tls_key_file: Path | None = Field(
        default=None, description="PEM private key (keep it readable by camerahub only)")
    allow_plain_http: bool = Field(
        default=False, description="Serve plain HTTP on a non-loopback address (only behind "
                                   "a TLS-terminating proxy on the same host)")

    @model_validator(mode="after")
    def _tls_pair(self) -> Api:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("give both tls_cert_file and tls_key_file, or neither")
        return self


class AlertSource(Strict):
    """A system allowed to post log alerts (its API key is created with the CLI)."""

    id: Id
    name: DisplayName
    description: str | None = None


class System(Strict):
    """Installation identity and display settings."""

    name: DisplayName = "camerahub"
    timezone: str = "Asia/Tokyo"
    language: Literal["ja", "en"] = "ja"
