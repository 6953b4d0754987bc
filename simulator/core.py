"""The simulator engine: wires cameras, media, ONVIF, RTSP, discovery and faults together."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import json
import logging
import multiprocessing
import os
import ssl
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from simulator import media
from simulator.discovery import DiscoveryResponder
from simulator.httpd import HttpServer, Request, Response
from simulator.onvif import OnvifService, Ports
from simulator.rtp import PacketizedLoop
from simulator.rtsp import RtspCameraServer, StreamSource
from simulator.settings import SettingsError, apply_control
from simulator.state import CameraState, FaultSpecError, apply_faults, normalise_faults

log = logging.getLogger(__name__)

SOAP_TYPE = "application/soap+xml; charset=utf-8"
JSON_TYPE = "application/json"


class SimulatorError(Exception):
    """The simulator cannot start or a request names no camera."""


@dataclass
class Options:
    """Run-time settings shared by all cameras."""

    http_port: int = 8080
    rtsp_port: int = 8554
    control: tuple[str, int] | None = ("127.0.0.1", 8099)
    interface: str | None = None
    cache_dir: Path | None = field(default_factory=media.default_cache_dir)
    workers: int | None = None
    # (certificate chain, key) PEM files: every RTSP port speaks TLS (rtsps://) with them,
    # and GetStreamUri says rtsps://; the certificate should name every camera's address
    rtsp_tls: tuple[Path, Path] | None = None
    # ONVIF over HTTPS too, with the same certificate (it needs rtsp_tls); XAddrs, the
    # snapshot URI and WS-Discovery then say https://
    onvif_https: bool = False

    def __post_init__(self) -> None:
        if self.onvif_https and self.rtsp_tls is None:
            raise ValueError("ONVIF over HTTPS needs a certificate and key (the TLS ones)")

    def http_server_context(self) -> ssl.SSLContext | None:
        """The ONVIF ports' TLS context, or None for plain HTTP."""
        return self.rtsp_server_context() if self.onvif_https else None

    @property
    def http_scheme(self) -> str:
        return "https" if self.onvif_https else "http"

    def rtsp_server_context(self) -> ssl.SSLContext | None:
        """The RTSP ports' TLS context, or None for plain RTSP."""
        if self.rtsp_tls is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*self.rtsp_tls)
        return context

    @property
    def rtsp_scheme(self) -> str:
        return "rtsp" if self.rtsp_tls is None else "rtsps"


@dataclass
class CameraNode:
    """One camera's state and its servers."""

    state: CameraState
    onvif: OnvifService
    http: HttpServer
    rtsp: RtspCameraServer


def _encode_job(label: media.Label, spec: media.ProfileSpec,
                cache_dir: Path | None) -> media.EncodedLoop:
    """Worker-process job: the loop, encoded and cached unless the cache already has it."""
    return media.get_loop(label, spec, cache_dir)


async def load_loops(cameras: list[CameraState], cache_dir: Path | None,
                     workers: int | None) -> dict[tuple[str, str], media.EncodedLoop]:
    """Every camera's loops: from the cache, encoding the missing ones in worker processes."""
    wanted = [(c.label(), spec) for c in cameras for spec in c.profiles.values()]
    loops: dict[tuple[str, str], media.EncodedLoop] = {}
    missing = []
    for label, spec in wanted:
        cached = media.load_loop(cache_dir / media.cache_key(label, spec), spec) \
            if cache_dir else None
        if cached is None:
            missing.append((label, spec))
        else:
            loops[(label.camera_id, spec.token)] = cached
    if missing:
        await _encode_missing(missing, cache_dir, workers, loops)
    return loops


async def _encode_missing(missing: list, cache_dir: Path | None, workers: int | None,
                          loops: dict) -> None:
    """Encode in a spawn-based pool: fork is unsafe once the event loop's threads exist."""
    started = time.monotonic()
    count = workers or os.cpu_count() or 1
    log.info("encoding %d loops with %d workers", len(missing), count)
    ctx = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    with concurrent.futures.ProcessPoolExecutor(count, mp_context=ctx) as pool:
        futures = [loop.run_in_executor(pool, _encode_job, label, spec, cache_dir)
                   for label, spec in missing]
        results = await asyncio.gather(*futures)
    for (label, spec), loop_ in zip(missing, results, strict=True):
        loops[(label.camera_id, spec.token)] = loop_
    log.info("encoded %d loops in %.1f s", len(missing), time.monotonic() - started)


def _background_worker() -> None:
    """Re-encoding runs niced, so SOAP and RTSP answers keep the CPU first."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)


def release_free_memory() -> None:
    """Hand the heap freed after loading loops back to the OS (glibc keeps it otherwise)."""
    # not glibc: nothing to do, RSS just stays higher
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def gop_phase(camera_id: str) -> float:
    """Where in its GOP a camera's clock starts, in [0, 1): stable per camera id.

    A real fleet's cameras were switched on at different moments, so their keyframes fall
    anywhere in the GOP; cameras started together in lockstep would send every keyframe
    (the largest frames) at the same instant and make every frame clock wake together.
    """
    return zlib.crc32(camera_id.encode()) / 2**32


class SimulatorCore:
    """All cameras in one asyncio loop."""

    def __init__(self, cameras: list[CameraState], options: Options) -> None:
        self.cameras = cameras
        self.options = options
        self.nodes: dict[str, CameraNode] = {}
        self.discovery: DiscoveryResponder | None = None
        self.control: HttpServer | None = None
        self.start_seconds = 0.0
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._restreams: set[asyncio.Task] = set()

    async def start(self) -> None:
        """Prepare media, then start every server and check each camera answers."""
        started = time.monotonic()
        loops = await load_loops(self.cameras, self.options.cache_dir, self.options.workers)
        epoch = time.monotonic()
        ports = Ports(self.options.http_port, self.options.rtsp_port, self.options.rtsp_scheme,
                      self.options.http_scheme)
        tls, https = self.options.rtsp_server_context(), self.options.http_server_context()
        for cam in self.cameras:
            self.nodes[cam.camera_id] = self._node(cam, ports, loops, epoch, tls, https)
        for node in self.nodes.values():
            if not node.state.faults.offline:
                await node.http.start()
                await node.rtsp.start()
        self.discovery = DiscoveryResponder(self.cameras, ports.http, self.options.interface,
                                            ports.http_scheme)
        await self.discovery.start()
        if self.options.control is not None:
            host, port = self.options.control
            self.control = HttpServer(host, port, self._control, "control")
            await self.control.start()
        await self._self_check()
        del loops
        release_free_memory()
        self.start_seconds = time.monotonic() - started

    def _node(self, cam: CameraState, ports: Ports, loops: dict, epoch: float,
              tls: ssl.SSLContext | None = None,
              https: ssl.SSLContext | None = None) -> CameraNode:
        """Build one camera's servers (not yet listening)."""
        onvif = OnvifService(cam, ports, lambda token, c=cam: self.encoder_changed(c, token))
        sources = {}
        for token in cam.profiles:
            packetized = PacketizedLoop.build(loops[(cam.camera_id, token)])
            cam.served[token] = packetized.loop.spec
            spec = packetized.loop.spec
            sources[token] = StreamSource(cam, packetized,
                                          epoch - gop_phase(cam.camera_id) * spec.gop / spec.fps)
        http = HttpServer(cam.address, ports.http, lambda req, o=onvif: self._http(o, req),
                          cam.camera_id, https)
        return CameraNode(cam, onvif, http, RtspCameraServer(cam, ports.rtsp, sources, tls))

    async def stop(self) -> None:
        """Say Bye, then close every server."""
        if self.discovery is not None:
            self.discovery.stop(send_bye=True)
        for task in list(self._restreams):
            task.cancel()
        await asyncio.gather(*self._restreams, return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        for node in self.nodes.values():
            await node.http.stop()
            await node.rtsp.close()
        if self.control is not None:
            await self.control.stop()

    @property
    def control_port(self) -> int | None:
        """The bound control port (useful when 0 asked for an ephemeral one)."""
        return None if self.control is None else self.control.bound_port

    # -- ONVIF HTTP ------------------------------------------------------------------

    async def _http(self, onvif: OnvifService, req: Request) -> Response:
        """ONVIF SOAP endpoints and the snapshot URI of one camera."""
        if req.path in ("/onvif/device_service", "/onvif/media_service"):
            if req.method != "POST":
                return Response(405, b"POST SOAP requests here\n", headers={"Allow": "POST"})
            status, body = onvif.handle(req.body)
            return Response(status, body, SOAP_TYPE)
        if req.path == "/onvif/snapshot" and req.method == "GET":
            spec = onvif.camera.profiles.get(req.query.get("profile", "main"))
            if spec is None:
                return Response(404, b"no such profile\n")
            jpeg = await asyncio.get_running_loop().run_in_executor(
                None, media.snapshot_jpeg, onvif.camera.label(), spec, int(time.time() * spec.fps))
            return Response(200, jpeg, "image/jpeg")
        return Response(404, b"not found\n")

    # -- encoder changes -----------------------------------------------------------------

    def encoder_changed(self, cam: CameraState, token: str) -> None:
        """A profile's encoder settings changed: re-encode its loop in the background."""
        task = asyncio.get_running_loop().create_task(self._restream(cam, token))
        self._restreams.add(task)
        task.add_done_callback(self._restreams.discard)

    async def _restream(self, cam: CameraState, token: str) -> None:
        """Encode the new loop off the event loop, then swap the profile's stream."""
        spec = cam.profiles[token]
        if cam.served[token].encoding() == spec.encoding():
            cam.served[token] = spec  # only reported values (bitrate limit) changed
            return
        started = time.monotonic()
        loop_ = await asyncio.get_running_loop().run_in_executor(
            self._encoder_pool(), _encode_job, cam.label(), spec, self.options.cache_dir)
        if cam.profiles[token].encoding() != spec.encoding():
            return  # superseded by a later change; its own task installs that one
        await self._install(cam, token, loop_)
        log.info("%s %s now %dx%d@%d gop %d (re-encoded in %.1f s)", cam.camera_id, token,
                 spec.width, spec.height, spec.fps, spec.gop, time.monotonic() - started)

    def _encoder_pool(self) -> concurrent.futures.ProcessPoolExecutor:
        """Worker processes for re-encoding, started on first use (spawn: see above)."""
        if self._pool is None:
            count = self.options.workers or os.cpu_count() or 1
            self._pool = concurrent.futures.ProcessPoolExecutor(
                count, mp_context=multiprocessing.get_context("spawn"),
                initializer=_background_worker)
        return self._pool

    async def _install(self, cam: CameraState, token: str, loop_: media.EncodedLoop) -> None:
        """Serve the new loop; sessions of the old one are cut so clients fetch the new SDP."""
        node = self.nodes[cam.camera_id]
        old = node.rtsp.sources[token]
        node.rtsp.sources[token] = StreamSource(cam, PacketizedLoop.build(loop_),
                                                time.monotonic())
        cam.served[token] = cam.profiles[token]
        for conn in list(node.rtsp.connections):
            if conn.session is not None and conn.session.source is old:
                conn.abort()
        await old.close()

    async def change_settings(self, target: str, body: dict) -> CameraState:
        """A hand-made change (control endpoint), validated as ONVIF Set* would be."""
        cam = self.find(target)
        for token in apply_control(cam, body):
            self.encoder_changed(cam, token)
        return cam

    # -- faults ------------------------------------------------------------------------

    def find(self, target: str) -> CameraState:
        """A camera by id or address."""
        for cam in self.cameras:
            if target in (cam.camera_id, cam.address):
                return cam
        raise SimulatorError(f"no camera {target!r}")

    async def set_faults(self, target: str, changes: dict) -> CameraState:
        """Apply fault changes to a camera and make the servers follow them."""
        cam = self.find(target)
        changes = normalise_faults(changes)
        was_offline = cam.faults.offline
        apply_faults(cam, changes)
        node = self.nodes[cam.camera_id]
        if cam.faults.offline and not was_offline:
            await node.http.stop()
            await node.rtsp.stop()
        elif was_offline and not cam.faults.offline:
            await node.http.start()
            await node.rtsp.start()
            self._announce(cam)
        elif changes.get("replaced"):
            self._announce(cam)
        if changes.get("drop_after"):
            self._arm_drops(node)
        log.info("%s faults now %s", cam.camera_id, cam.faults.as_dict())
        return cam

    def _announce(self, cam: CameraState) -> None:
        if self.discovery is not None:
            self.discovery.announce(cam, "Hello")

    @staticmethod
    def _arm_drops(node: CameraNode) -> None:
        """Sessions already playing are also cut, T seconds from now."""
        loop = asyncio.get_running_loop()
        for conn in list(node.rtsp.connections):
            if conn.session is not None and conn.session.playing:
                if conn.session.drop_handle is not None:
                    conn.session.drop_handle.cancel()
                conn.session.drop_handle = loop.call_later(
                    node.state.faults.drop_after, conn.abort)

    async def clear_faults(self, target: str) -> CameraState:
        """Back to a healthy camera."""
        return await self.set_faults(target, {"offline": False, "drop_after": None,
                                              "reject_auth": False, "skew": 0, "stall": False,
                                              "stream_uri": None, "snapshot_uri": None,
                                              "garbage_rtp": None, "random_bytes": False,
                                              "lose_packets": 0, "session_timeout": None})

    def sent_log(self, target: str) -> dict:
        """Per profile: when each keyframe and each session's first packet were sent."""
        node = self.nodes[self.find(target).camera_id]
        return {token: source.sent_log() for token, source in node.rtsp.sources.items()}

    # -- control endpoint ----------------------------------------------------------------

    async def _control(self, req: Request) -> Response:
        """`GET /cameras`, `GET /cameras/ID`, `POST|DELETE /cameras/ID/faults`, `GET .../sent`."""
        parts = [p for p in req.path.split("/") if p]
        try:
            if parts == ["cameras"] and req.method == "GET":
                return _json(200, [c.as_dict() for c in self.cameras])
            if len(parts) == 2 and parts[0] == "cameras" and req.method == "GET":
                return _json(200, self.find(parts[1]).as_dict())
            if len(parts) == 3 and parts[::2] == ["cameras", "faults"]:
                return await self._control_faults(req, parts[1])
            if len(parts) == 3 and parts[::2] == ["cameras", "settings"]:
                return await self._control_settings(req, parts[1])
            if len(parts) == 3 and parts[::2] == ["cameras", "sent"] and req.method == "GET":
                return _json(200, self.sent_log(parts[1]))
            if parts == ["healthz"]:
                return _json(200, {"cameras": len(self.cameras)})
        except SimulatorError as exc:
            return _json(404, {"error": str(exc)})
        except (FaultSpecError, SettingsError) as exc:
            return _json(400, {"error": str(exc)})
        return _json(404, {"error": "no such resource"})

    async def _control_settings(self, req: Request, target: str) -> Response:
        """POST {"main": {"resolution": "640x360", "gop": 10}, "hostname": ..., "ntp": [...]}."""
        if req.method not in ("POST", "PUT", "PATCH"):
            return _json(405, {"error": "use POST"})
        body = _json_object(req)
        if isinstance(body, Response):
            return body
        try:
            return _json(200, (await self.change_settings(target, body)).as_dict())
        except (TypeError, ValueError) as exc:
            return _json(400, {"error": str(exc)})

    async def _control_faults(self, req: Request, target: str) -> Response:
        if req.method == "DELETE":
            return _json(200, (await self.clear_faults(target)).as_dict())
        if req.method not in ("POST", "PUT", "PATCH"):
            return _json(405, {"error": "use POST or DELETE"})
        changes = _json_object(req)
        if isinstance(changes, Response):
            return changes
        return _json(200, (await self.set_faults(target, changes)).as_dict())

    # -- readiness -------------------------------------------------------------------------

    async def _self_check(self) -> None:
        """Every online camera must answer SOAP and RTSP before we say ready."""
        checks = [self._probe_camera(n) for n in self.nodes.values()
                  if not n.state.faults.offline]
        await asyncio.gather(*checks)

    async def _probe_camera(self, node: CameraNode) -> None:
        cam = node.state
        body = (b'<?xml version="1.0"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/'
                b'soap-envelope"><s:Body><GetSystemDateAndTime xmlns="http://www.onvif.org/'
                b'ver10/device/wsdl"/></s:Body></s:Envelope>')
        head = (f"POST /onvif/device_service HTTP/1.1\r\nHost: {cam.address}\r\n"
                f"Content-Type: {SOAP_TYPE}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        reply = await _exchange(cam.address, self.options.http_port, head + body,
                                self.options.onvif_https)
        if not reply.startswith(b"HTTP/1.1 200"):
            raise SimulatorError(f"{cam.camera_id}: ONVIF self-check failed: {reply[:80]!r}")
        reply = await _exchange(cam.address, self.options.rtsp_port,
                                b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n",
                                self.options.rtsp_tls is not None)
        if not reply.startswith(b"RTSP/1.0 200"):
            raise SimulatorError(f"{cam.camera_id}: RTSP self-check failed: {reply[:80]!r}")


async def _exchange(host: str, port: int, request: bytes, tls: bool = False) -> bytes:
    """Send a request and read the first chunk of the reply (over TLS, our own port
    checked by ourselves: its certificate is not what is tested here)."""
    context = None
    if tls:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port, ssl=context), 10)
    try:
        writer.write(request)
        return await asyncio.wait_for(reader.read(256), 10)
    finally:
        writer.close()


def _json(status: int, payload: object) -> Response:
    return Response(status, json.dumps(payload).encode() + b"\n", JSON_TYPE)


def _json_object(req: Request) -> dict | Response:
    """The request body as a JSON object, or the 400 response that says why it is not one."""
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        return _json(400, {"error": "body is not JSON"})
    if not isinstance(body, dict):
        return _json(400, {"error": "body must be a JSON object"})
    return body
