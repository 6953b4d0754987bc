"""The URL the recorder opens for a camera: its recorded profile's stream, via CameraAccess."""

from __future__ import annotations

from camerahub.cameras import CameraAccess
from camerahub.config import Config
from camerahub.db import models as m
from camerahub.onvif import OnvifClient


class OnvifStreamResolver:
    """The recorded profile's RTSP URL (login included) of an inventory camera."""

    def __init__(self, cfg: Config, client: OnvifClient | None = None, *,
                 access: CameraAccess | None = None, ca_file: str | None = None):
        # ca_file: defaults.tls_ca_file resolved, for ONVIF over HTTPS (a client or an
        # access passed in was made with it)
        self.access = access or CameraAccess(cfg, client, ca_file=ca_file)

    def __call__(self, cam: m.Camera) -> str:
        """The URL to open; raises CameraAccessError kinds."""
        return self.access.stream_url(cam.id, cam.record_profile)

    def forget(self, camera_id: str) -> None:
        """Ask the camera again next time (after a failed session)."""
        self.access.forget(camera_id)
