"""Where a camera's live stream is: the live profile's RTSP URI, asked over ONVIF."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from camerahub.config import Config, SecretMissing
from camerahub.db import models as m
from camerahub.recorder.service import with_credentials
from camerahub.recorder.streams import OnvifStreamResolver, StreamUnavailable

from .errors import LiveUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _LiveProfile:
    """What OnvifStreamResolver reads of a camera, with the LIVE profile in record_profile.

    The resolver looks up `record_profile`; live view wants the camera's `profile`
    (usually the light `sub` stream), so hand it that under the name the resolver reads.
    """

    id: str
    address: str
    port: int
    record_profile: str


class LiveSources:
    """RTSP URLs (with the camera's credentials) of each camera's live profile."""

    def __init__(self, cfg: Config, sessions: sessionmaker[Session],
                 resolver: OnvifStreamResolver | None = None) -> None:
        self.cfg = cfg
        self.sessions = sessions
        self.resolver = resolver or OnvifStreamResolver(cfg)

    def __call__(self, camera_id: str) -> str:
        """The URL to open; LiveUnavailable if the camera does not tell us one."""
        profile = self._profile(camera_id)
        try:
            uri = self.resolver(profile)  # type: ignore[arg-type]
            return self._with_login(camera_id, uri)
        except (StreamUnavailable, SecretMissing) as exc:
            log.warning("live: camera %s: %s", camera_id, exc)
            raise LiveUnavailable(f"camera {camera_id}: the camera is unreachable") from exc

    def forget(self, camera_id: str) -> None:
        """Ask the camera again next time (its stream failed)."""
        self.resolver.forget(camera_id)

    def _profile(self, camera_id: str) -> _LiveProfile:
        with self.sessions() as session:
            cam = session.get(m.Camera, camera_id)
            if cam is None:
                raise LiveUnavailable(f"camera {camera_id} is not in the inventory")
            return _LiveProfile(cam.id, cam.address, cam.port, cam.profile)

    def _with_login(self, camera_id: str, uri: str) -> str:
        cam = next((c for c in self.cfg.cameras if c.id == camera_id), None)
        cred = self.cfg.camera_credential(cam) if cam is not None else None
        if cred is None:
            return uri
        return with_credentials(uri, cred.username, cred.password().resolve())
