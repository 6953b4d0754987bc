"""Support for live-view and UI tests: the example deployment pointed at simulated cameras,
the real app served by uvicorn on loopback, and fMP4 stream readers."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import av
import httpx
import uvicorn

from camerahub.live import LiveHub
from camerahub.live.boxes import BoxSplitter, Fragment
from tests.support.deployment import NAKANO, PASSWORD, deploy_text, set_all_passwords
from tests.support.net import free_port
from tests.support.wait import wait_until

# Inventory camera -> simulated camera. The koseki division's room 1 gets live cameras;
# every other camera keeps its 127.0.1.x address, where nothing listens on the sim's port.
SIM_CAMERAS = {"hq-1f-koseki-01": "hq-001", "hq-1f-koseki-02": "hq-002",
               "hq-1f-koseki-03": "hq-003", "hq-1f-koseki-04": "hq-004"}
UNREACHABLE = "hq-1f-jumin-01"  # 127.0.1.5: connection refused
SUB_SIZE = (640, 360)  # the simulator's `sub` profile, the inventory's live profile


def deployment_text(sim, cameras: dict[str, str] = SIM_CAMERAS) -> str:
    """nakano.yaml with some cameras (id -> sim id) on the simulator's addresses and port."""
    text = NAKANO.read_text(encoding="utf-8")
    for camera, sim_id in cameras.items():
        old = re.search(rf"- id: {camera}\n(?:  .*\n)*?  address: (\S+)\n", text)
        assert old, camera
        start, end = old.span(1)
        text = text[:start] + sim.camera(sim_id).address + text[end:]
    return text.replace("defaults:\n  port: 8080\n",
                        f"defaults:\n  port: {sim.options.http_port}\n", 1)


def deploy_for(sim, url: str, cameras: dict[str, str] = SIM_CAMERAS):
    """Deploy the example (some cameras pointed at sim) into url and set every password."""
    cfg = deploy_text(url, deployment_text(sim, cameras), "live-test.yaml")
    set_all_passwords(url, cfg)
    return cfg


def hub_of(app) -> LiveHub:
    """The live hub the app serves from (tune it with make_app(..., live=LiveOptions(...)))."""
    return app.state.camerahub.live

def rtsp_sessions(sim, sim_id: str) -> int:
    """RTSP sessions playing on a simulated camera right now (every profile)."""
    node = sim.core.nodes[sim_id]
    return sum(len(source.sessions) for source in node.rtsp.sources.values())


@dataclass
class Server:
    """The real app under uvicorn on 127.0.0.1 and a free port."""

    app: object
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def serving(app, timeout: float = 30) -> Iterator[Server]:
    """Run app with uvicorn in a thread (lifespan on); stop it afterwards."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout, "uvicorn started")
    try:
        yield Server(app, port, server, thread)
    finally:
        server.should_exit = True
        thread.join(30)


def token(base: str, user: str) -> str:
    """A bearer token for user from POST /auth/token."""
    resp = httpx.post(f"{base}/api/v1/auth/token", data={"username": user, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


@dataclass
class StreamReader:
    """Reads a live.mp4 response in a thread, splitting it into init segment and fragments."""

    response: httpx.Response
    init: bytes | None = None
    fragments: list[Fragment] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def start(self) -> StreamReader:
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        splitter = BoxSplitter()
        try:
            for chunk in self.response.iter_bytes():
                for unit in splitter.feed(chunk):
                    if isinstance(unit, Fragment):
                        self.fragments.append(unit)
                    else:
                        self.init = unit
        except (httpx.HTTPError, RuntimeError) as exc:  # closed under us at the test's end
            self.error = exc
        finally:
            self.ended.set()

    def wait_fragments(self, count: int, timeout: float = 60) -> None:
        wait_until(lambda: len(self.fragments) >= count or self.ended.is_set(), timeout,
                   f"{count} fragments")
        assert len(self.fragments) >= count, f"stream ended early ({self.error})"

    def as_file(self) -> bytes:
        """Init segment and fragments as one playable fMP4 (as a browser would receive)."""
        origin = self.fragments[0].decode_time
        return self.init + b"".join(f.rebased(origin) for f in self.fragments)


def decode_frames(data: bytes) -> list[av.VideoFrame]:
    """Every frame PyAV decodes from fMP4 bytes."""
    with av.open(io.BytesIO(data), format="mp4") as container:
        return list(container.decode(video=0))
