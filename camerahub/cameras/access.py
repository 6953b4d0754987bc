"""How to reach a configured camera: its login, its ONVIF device URL and its stream URLs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from urllib.parse import quote, urlsplit, urlunsplit

from camerahub.config import Camera, Config, Credential, SecretMissing
from camerahub.errors import CamerahubError, ErrorKind
from camerahub.onvif import Login, OnvifClient, OnvifError

from .uris import STREAM_SCHEMES, UriRefused, checked_uri

log = logging.getLogger(__name__)
# Told of every camera-supplied URI refused: (camera id, the reason); writes the event.
RefusalHook = Callable[[str, str], None]


class CameraAccessError(CamerahubError):
    """A camera cannot be reached as configured; `camera_id` says which (None: no camera)."""

    kind = ErrorKind.UNAVAILABLE

    def __init__(self, camera_id: str | None, message: str):
        super().__init__(message)
        self.camera_id = camera_id


class UnknownCamera(CameraAccessError):
    """The configuration has no camera with this id."""

    kind = ErrorKind.NOT_FOUND


class CredentialUnavailable(CameraAccessError, SecretMissing):
    """The camera has no credential, or its secret is missing; the message names the
    reference, never the secret. Also a SecretMissing, which callers caught before."""

    def __init__(self, camera_id: str | None, message: str, credential_id: str | None = None):
        super().__init__(camera_id, message)
        self.credential_id = credential_id


class StreamUnavailable(CameraAccessError):
    """The camera did not tell us a stream URI for the profile."""


class UntrustedStreamUri(StreamUnavailable):
    """The camera named a stream URI we must not open (another host, another scheme)."""


def device_service_url(address: str, port: int, https: bool = False) -> str:
    """The ONVIF device service URL at an address and port, over HTTP or HTTPS."""
    return f"{'https' if https else 'http'}://{address}:{port}/onvif/device_service"


def insert_login(url: str, login: Login) -> str:
    """The URL with user:password inserted (percent-encoded), replacing any it carries."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    auth = quote(login.username, safe="") + ":" + quote(login.password, safe="")
    return urlunsplit(parts._replace(netloc=f"{auth}@{host}"))


class CameraAccess:
    """Logins, device URLs and stream URLs of the configured cameras; thread-safe.

    A login is resolved from its secret reference on first use and cached per credential;
    a stream URI is asked over ONVIF (GetStreamUri) and cached per camera and profile.
    `forget` drops both for a camera after a failed session.
    """

    def __init__(self, cfg: Config, client: OnvifClient | None = None,
                 on_refusal: RefusalHook | None = None, ca_file: str | None = None):
        self.cfg = cfg
        self.on_refusal = on_refusal
        self._own_client = client is None
        # ca_file: defaults.tls_ca_file resolved (Runtime.camera_ca_file), for the client
        # made here; a client passed in was made with it
        self.client = client or OnvifClient(ca_file=ca_file)
        self._logins: dict[str, Login] = {}
        self._streams: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the ONVIF client if this object created it."""
        if self._own_client:
            self.client.close()

    # -- logins ----------------------------------------------------------------------------

    def login(self, camera_id: str) -> Login | None:
        """The camera's login (its credential, else the defaults'), or None if it has none."""
        cred = self.cfg.camera_credential(self._camera(camera_id))
        return self._login(cred, camera_id) if cred is not None else None

    def require_login(self, camera_id: str) -> Login:
        """The camera's login; CredentialUnavailable if the configuration gives it none."""
        login = self.login(camera_id)
        if login is None:
            raise CredentialUnavailable(camera_id, f"camera {camera_id} has no credential")
        return login

    def default_login(self) -> Login | None:
        """The defaults' login, for devices not in the inventory; None if there is none."""
        cred_id = self.cfg.defaults.credential
        cred = next((c for c in self.cfg.credentials if c.id == cred_id), None)
        return self._login(cred, None) if cred is not None else None

    def _login(self, cred: Credential, camera_id: str | None) -> Login:
        """A credential's login, cached; a missing secret is not cached (it may appear)."""
        with self._lock:
            login = self._logins.get(cred.id)
            if login is None:
                login = self._logins[cred.id] = _resolve(cred, camera_id)
            return login

    # -- URLs ------------------------------------------------------------------------------

    def device_url(self, camera_id: str) -> str:
        """The ONVIF device service URL of the camera."""
        cam = self._camera(camera_id)
        return device_service_url(cam.address, self.cfg.camera_port(cam),
                                  self.cfg.camera_onvif_https(cam))

    def stream_url(self, camera_id: str, profile: str, *, with_login: bool = True) -> str:
        """The RTSP URL of the camera's profile, by default with its login inserted.

        Raises StreamUnavailable, CredentialUnavailable or UnknownCamera.
        """
        uri = self._stream_uri(camera_id, profile)
        login = self.login(camera_id) if with_login else None
        return insert_login(uri, login) if login is not None else uri

    def forget(self, camera_id: str) -> None:
        """Ask the camera again next time, and re-read its secret (its session failed)."""
        cam = self.cfg.camera(camera_id)
        cred = self.cfg.camera_credential(cam) if cam is not None else None
        with self._lock:
            for key in [k for k in self._streams if k[0] == camera_id]:
                del self._streams[key]
            if cred is not None:  # a refused login may be a rotated password
                self._logins.pop(cred.id, None)

    def _stream_uri(self, camera_id: str, profile: str) -> str:
        """The profile's stream URI without credentials, from the cache or the camera."""
        with self._lock:
            cached = self._streams.get((camera_id, profile))
        if cached is not None:
            return cached
        uri = self._ask_stream_uri(camera_id, profile)
        with self._lock:
            self._streams[(camera_id, profile)] = uri
        return uri

    def _ask_stream_uri(self, camera_id: str, profile: str) -> str:
        """GetStreamUri over ONVIF; a missing profile falls back to the camera's first."""
        xaddr, login = self.device_url(camera_id), self.login(camera_id)
        try:
            report = self.client.interrogate(xaddr, login)
        except OnvifError as exc:
            raise StreamUnavailable(camera_id, f"{camera_id}: {exc}") from exc
        uris = {p.token: p.stream_uri for p in report.profiles if p.stream_uri}
        uri = uris.get(profile) or next(iter(uris.values()), None)
        if not uri:
            why = "; ".join(report.malformed) or ", ".join(report.missing)
            raise StreamUnavailable(camera_id, f"{camera_id}: camera reports no stream URI"
                                    + (f" ({why})" if why else ""))
        if profile not in uris:
            log.warning("camera %s has no profile %r; using %s", camera_id, profile, uri)
        return self._camera_supplied(camera_id, uri)

    def _camera_supplied(self, camera_id: str, uri: str) -> str:
        """The one door for a URI the camera gave us: used only if it names the camera.

        No connection is made to a refused URI, so the camera's login never leaves for a
        host the configuration does not name for it.
        """
        cam = self._camera(camera_id)
        try:
            return checked_uri(uri, STREAM_SCHEMES, (cam.address, *cam.stream_hosts))
        except UriRefused as exc:
            reason = f"stream URI refused: {exc}"
            log.warning("camera %s: %s", camera_id, reason)
            if self.on_refusal is not None:
                self.on_refusal(camera_id, reason)
            raise UntrustedStreamUri(camera_id, f"{camera_id}: {reason}") from None

    def _camera(self, camera_id: str) -> Camera:
        """The configured camera; UnknownCamera if the file has none with this id."""
        cam = self.cfg.camera(camera_id)
        if cam is None:
            raise UnknownCamera(camera_id, f"camera {camera_id} is not in the configuration")
        return cam


def _resolve(cred: Credential, camera_id: str | None) -> Login:
    """Read a credential's secret; CredentialUnavailable names the reference, not the value."""
    try:
        return Login(cred.username, cred.password().resolve())
    except SecretMissing as exc:
        raise CredentialUnavailable(camera_id, f"credential {cred.id}: {exc}", cred.id) from None
