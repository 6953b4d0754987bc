"""Find each camera's RTSP URI for the recorded profile by asking the camera (ONVIF)."""

from __future__ import annotations

import logging
import threading

from camerahub.config import Config
from camerahub.db import models as m
from camerahub.onvif import Login, OnvifClient, OnvifError

log = logging.getLogger(__name__)


class StreamUnavailable(Exception):
    """The camera did not tell us a stream URI for the recorded profile."""


def device_xaddr(cam: m.Camera) -> str:
    """The ONVIF device service URL of an inventory camera."""
    return f"http://{cam.address}:{cam.port}/onvif/device_service"


class OnvifStreamResolver:
    """GetStreamUri through the shared ONVIF client; answers are cached per camera."""

    def __init__(self, cfg: Config, client: OnvifClient | None = None):
        self.cfg = cfg
        self.client = client or OnvifClient()
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, cam: m.Camera) -> str:
        """The stream URI (without credentials) of the camera's recorded profile."""
        with self._lock:
            cached = self._cache.get(cam.id)
        return cached or self._ask(cam)

    def _ask(self, cam: m.Camera) -> str:
        try:
            report = self.client.interrogate(device_xaddr(cam), self._login(cam.id))
        except OnvifError as exc:
            raise StreamUnavailable(f"{cam.id}: {exc}") from exc
        uris = {p.token: p.stream_uri for p in report.profiles if p.stream_uri}
        uri = uris.get(cam.record_profile) or next(iter(uris.values()), None)
        if not uri:
            raise StreamUnavailable(f"{cam.id}: camera reports no stream URI")
        if cam.record_profile not in uris:
            log.warning("camera %s has no profile %r; recording %s", cam.id,
                        cam.record_profile, uri)
        self._remember(cam.id, uri)
        return uri

    def _remember(self, camera_id: str, uri: str) -> None:
        with self._lock:
            self._cache[camera_id] = uri

    def forget(self, camera_id: str) -> None:
        """Ask the camera again next time (after a failed session)."""
        with self._lock:
            self._cache.pop(camera_id, None)

    def _login(self, camera_id: str) -> Login | None:
        cam = next((c for c in self.cfg.cameras if c.id == camera_id), None)
        cred = self.cfg.camera_credential(cam) if cam else None
        return Login(cred.username, cred.password().resolve()) if cred else None
