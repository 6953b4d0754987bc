"""`Simulator`: the engine in a background thread, for tests and embedding."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from simulator import media
from simulator.config import (
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    Layout,
     default_cameras,
    load_config,
    loopback,
    parse_bitrate,
)
from simulator.core import Options, SimulatorCore, SimulatorError
from simulator.media import ProfileSpec
from simulator.state import CameraState, FaultSpecError, apply_faults, parse_fault_spec

FaultsArg = Iterable[str] | Mapping[str, Mapping] | None


def build_cameras(layout: Layout, config: str | Path | None = None,
                  faults: FaultsArg = None) -> list[CameraState]:
    """The camera list from the layout or a YAML file, with start-up faults applied."""
    cams = load_config(Path(config), layout) if config else default_cameras(layout)
    for target, changes in _fault_items(faults):
        matched = [c for c in cams if target in (c.camera_id, c.address, "*", "all")]
        if not matched:
            raise FaultSpecError(f"fault for unknown camera {target!r}")
        for cam in matched:
            apply_faults(cam, changes)
    return cams


def _fault_items(faults: FaultsArg) -> list[tuple[str, dict]]:
    """Faults as (target, changes): accepts CLI strings or a {target: {fault: value}} map."""
    if not faults:
        return []
    if isinstance(faults, Mapping):
        from simulator.state import normalise_faults
        return [(t, normalise_faults(dict(c))) for t, c in faults.items()]
    return [parse_fault_spec(s) for s in faults]


def main_profile(size: str | None, bitrate: str | int | None) -> ProfileSpec:
    """The main profile: 1280x720@15 light by default, heavier with a bitrate."""
    width, height = (1280, 720)
    if size:
        width, height = (int(v) for v in size.lower().split("x"))
    rate = parse_bitrate(bitrate) if isinstance(bitrate, str) else bitrate
    return ProfileSpec("main", width, height, 15, bitrate=rate, texture=bool(rate))


class Simulator:
    """Simulated cameras served from a private event loop in a daemon thread.

    >>> with Simulator(cameras=4, hq_base="127.0.31.1", facility_base="127.0.32.1",
    ...                port=18080, rtsp_port=18554, control_port=None) as sim:
    ...     url = sim.rtsp_url("hq-001")
    """

    def __init__(self, cameras: int = 100, hq: int | None = None, *, port: int = 8080,
                 rtsp_port: int = 8554, control_port: int | None = 8099,
                 control_host: str = "127.0.0.1", hq_base: str = "127.0.1.1",
                 facility_base: str = "127.0.2.1", interface: str | None = None,
                 faults: FaultsArg = None, username: str = DEFAULT_USERNAME,
                 password: str = DEFAULT_PASSWORD,
                 config: str | Path | None = None, cache_dir: str | Path | None = None,
                 main_size: str | None = None, bitrate: str | int | None = None,
                 workers: int | None = None, tls_cert: str | Path | None = None,
                 tls_key: str | Path | None = None, onvif_https: bool = False) -> None:
        layout = Layout(cameras=cameras, hq=hq, hq_base=hq_base, facility_base=facility_base,
                        username=username, password=password,
                        main=main_profile(main_size, bitrate))
        self.cameras = build_cameras(layout, config, faults)
        control = (loopback(control_host), control_port) if control_port is not None else None
        cache = Path(cache_dir) if cache_dir else media.default_cache_dir()
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("give both tls_cert and tls_key (rtsps://), or neither")
        rtsp_tls = (Path(tls_cert), Path(tls_key)) if tls_cert and tls_key else None
        self.options = Options(http_port=port, rtsp_port=rtsp_port, control=control,
                               interface=interface, cache_dir=cache, workers=workers,
                               rtsp_tls=rtsp_tls, onvif_https=onvif_https)
        self.core = SimulatorCore(self.cameras, self.options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 300) -> Simulator:
        """Start the thread and block until every camera answers."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="camerahub-sim",
                                        daemon=True)
        self._thread.start()
        try:
            self._call(self.core.start(), timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 30) -> None:
        """Stop every server and the thread."""
        if self._loop is None:
            return
        try:
            self._call(self.core.stop(), timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            if self._thread is not None:
                self._thread.join(timeout)
            self._loop.close()
            self._loop = None

    def _call(self, coro, timeout: float):
        """Run a coroutine on the simulator's loop and wait for its result."""
        if self._loop is None:
            coro.close()
            raise SimulatorError("simulator is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- conveniences for tests ----------------------------------------------------------

    def camera(self, target: str) -> CameraState:
        """A camera by id or address."""
        return self.core.find(target)

    def set_faults(self, target: str, **changes: object) -> CameraState:
        """Switch faults at run time, e.g. `set_faults("hq-001", offline=True)`."""
        return self._call(self.core.set_faults(target, changes), 30)

    def clear_faults(self, target: str) -> CameraState:
        """Heal a camera."""
        return self._call(self.core.clear_faults(target), 30)

    def sent(self, target: str) -> dict:
        """Per profile, when keyframes and sessions' first packets were sent (wall clock)."""
        async def read() -> dict:
            return self.core.sent_log(target)
        return self._call(read(), 30)

    def change_settings(self, target: str, **body: object) -> CameraState:
        """A hand-made settings change, e.g. `change_settings("hq-001", hostname="x")`."""
        return self._call(self.core.change_settings(target, body), 30)

    def wait_streams(self, target: str, timeout: float = 120) -> CameraState:
        """Block until the camera's RTSP streams follow its encoder settings (re-encoded)."""
        deadline = time.monotonic() + timeout
        cam = self.camera(target)
        while cam.pending_streams():
            if time.monotonic() > deadline:
                raise SimulatorError(f"{target}: streams still re-encoding after {timeout} s")
            time.sleep(0.1)
        return cam

    def rtsp_url(self, target: str, profile: str = "main", credentials: bool = True) -> str:
        """rtsp://[user:pass@]ADDR:PORT/PROFILE (rtsps:// when the simulator speaks TLS)"""
        cam = self.camera(target)
        auth = f"{cam.username}:{cam.password}@" if credentials else ""
        return (f"{self.options.rtsp_scheme}://{auth}{cam.address}:{self.options.rtsp_port}"
                f"/{profile}")

    def device_url(self, target: str) -> str:
        """The ONVIF device service XAddr."""
        cam = self.camera(target)
        return (f"{self.options.http_scheme}://{cam.address}:{self.options.http_port}"
                "/onvif/device_service")

    @property
    def control_url(self) -> str | None:
        """Base URL of the control endpoint, when enabled."""
        port = self.core.control_port
        return None if port is None else f"http://{self.options.control[0]}:{port}"
