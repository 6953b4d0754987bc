"""Where a camera's live stream is: the live profile's RTSP URL, through CameraAccess."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker

from camerahub.cameras import CameraAccess, CameraAccessError
from camerahub.config import Config
from camerahub.db import models as m

from .errors import LiveUnavailable

log = logging.getLogger(__name__)


class LiveSources:
    """RTSP URLs (with the camera's credentials) of each camera's live profile."""

    def __init__(self, cfg: Config, sessions: sessionmaker[Session],
                 access: CameraAccess | None = None) -> None:
        self.sessions = sessions
        self.access = access or CameraAccess(cfg)

    def __call__(self, camera_id: str, profile: str | None = None) -> str:
        """The URL to open (the live profile's, or the named profile's); LiveUnavailable if
        the camera does not tell us one."""
        inventory = self._profile(camera_id)
        profile = profile or inventory
        try:
            return self.access.stream_url(camera_id, profile)
        except CameraAccessError as exc:
            log.warning("live: camera %s: %s", camera_id, exc)
            why = ("the camera's certificate is not trusted"  # ONVIF over HTTPS refused
                   if getattr(exc.__cause__, "kind", None) == "untrusted"
                   else "the camera is unreachable")
            raise LiveUnavailable(f"camera {camera_id}: {why}") from exc

    def forget(self, camera_id: str) -> None:
        """Ask the camera again next time (its stream failed)."""
        self.access.forget(camera_id)

    def _profile(self, camera_id: str) -> str:
        """The inventory camera's live profile (usually the light `sub` stream)."""
        with self.sessions() as session:
            cam = session.get(m.Camera, camera_id)
            if cam is None:
                raise LiveUnavailable(f"camera {camera_id} is not in the inventory")
            return cam.profile
