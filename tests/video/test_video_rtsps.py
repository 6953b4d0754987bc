"""rtsps:// cameras: read over TLS whose certificate camerahub has checked, by our RTSP client
and, where FFmpeg reads (live view, snapshots, cameras not sending H.264), through a
verified loopback tunnel; a camera that cannot prove who it is gets no byte, credentials
included.

The simulator (127.W.121.x, this module's own range) speaks RTSP over TLS with a certificate
from a CA of the test's own; hostile TLS servers are sockets on 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from camerahub.live.upstream import open_stream, unavailable
from camerahub.storage import SpoolSink
from camerahub.video import InputOptions, Segmenter, SegmenterConfig, StreamOpenError, probe_segment
from camerahub.video.rtprecord import record_rtp
from camerahub.video.rtsp import RtspConnection
from camerahub.video.source import open_input
from camerahub.video.tls import Tunnel, client_context
from simulator.testing import running_simulator, subnet_prefixes
from tests.support.tls import issued, self_signed, tls_server

SUBNET = 121
PASSWORD = "admin"  # the simulator's; it must never reach a camera we do not trust


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict[str, Path]:
    """The office CA and the cameras' certificate; another CA; a self-signed stranger."""
    folder = tmp_path_factory.mktemp("pki")
    hq, facility = subnet_prefixes(SUBNET)
    ca, cert, key = issued(folder, [f"{hq}1", f"{facility}1"])
    other = folder / "other"
    other.mkdir()
    other_ca, _, _ = issued(other, [f"{hq}1"])
    return {"ca": ca, "cert": cert, "key": key, "other_ca": other_ca}


@pytest.fixture(scope="module")
def sim(pki):
    with running_simulator(cameras=2, hq=1, subnet=SUBNET, control_port=None,
                           main_size="640x360", tls_cert=pki["cert"], tls_key=pki["key"]) as s:
        yield s


def url_of(sim) -> str:
    url = sim.rtsp_url(sim.cameras[0].camera_id)
    assert url.startswith("rtsps://")
    return url


def options(ca: Path | None, timeout: float = 10) -> InputOptions:
    return InputOptions(open_timeout_s=timeout, read_timeout_s=3,
                        ca_file=str(ca) if ca is not None else None)


def record(sim, tmp_path, opts: InputOptions, engine: str = "rtp", count: int = 2) -> list:
    stop, infos = threading.Event(), []

    def on_segment(info) -> None:
        infos.append(info)
        if len(infos) >= count:
            stop.set()

    cfg = SegmenterConfig(segment_seconds=1, input=opts, engine=engine)
    segmenter = Segmenter("cam-tls", "hq", SpoolSink(tmp_path), on_segment, cfg)
    if engine == "rtp":
        assert record_rtp(segmenter, url_of(sim), stop) is True  # our client, not FFmpeg's
    else:
        segmenter.record(url_of(sim), stop)
    return infos


@pytest.mark.parametrize("engine", ["rtp", "pyav"])
def test_a_camera_with_a_trusted_certificate_is_recorded(sim, pki, tmp_path, engine):
    infos = record(sim, tmp_path, options(pki["ca"]), engine)
    assert len(infos) >= 2
    for info in infos:
        check = probe_segment(info.path)
        assert check.playable and check.first_is_keyframe and check.frames >= 1


def test_live_view_reads_an_rtsps_camera_through_the_verified_tunnel(sim, pki):
    container = open_stream(url_of(sim), options(pki["ca"]))
    try:
        stream = container.streams.video[0]
        packets = 0
        for packet in container.demux(stream):
            packets += packet.size > 0
            if packets >= 10:
                break
        assert packets >= 10
    finally:
        container.close()


@pytest.mark.parametrize("ca", ["system", "other_ca"])
def test_a_certificate_from_no_trusted_ca_is_refused_before_any_request(sim, pki, ca):
    opts = options(None if ca == "system" else pki["other_ca"])
    for opening in (lambda: RtspConnection(url_of(sim), 10, opts.ca_file),
                    lambda: open_input(url_of(sim), opts),
                    lambda: open_stream(url_of(sim), opts)):
        with pytest.raises(StreamOpenError) as caught:
            opening()
        assert caught.value.kind == "untrusted"
        assert "certificate is not trusted" in str(caught.value)
        assert PASSWORD not in str(caught.value).replace("admin@", "")
    told = str(unavailable("cam-tls", caught.value))
    assert "certificate is not trusted" in told and "rtsps" not in told


def test_a_certificate_for_another_host_is_refused_and_hears_nothing(pki, tmp_path):
    """The right CA, the wrong name: the certificate names 127.0.0.2, the URL 127.0.0.1."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    ca, cert, key = issued(folder, ["127.0.0.2"])
    with tls_server(cert, key) as (port, received, handshakes):
        url = f"rtsps://admin:{PASSWORD}@127.0.0.1:{port}/main"
        for opening in (lambda: RtspConnection(url, 10, str(ca)),
                        lambda: open_input(url, options(ca))):
            with pytest.raises(StreamOpenError) as caught:
                opening()
            assert caught.value.kind == "untrusted", caught.value
            assert "127.0.0.1" in str(caught.value) and PASSWORD not in str(caught.value)
    assert received == [], "a camera that did not prove who it is heard a request"
    assert "done" not in handshakes


def test_a_self_signed_camera_is_trusted_by_naming_its_certificate(tmp_path):
    """The common office case: each camera's own self-signed certificate, gathered in the
    CA file, is trusted for that camera's address."""
    cert, key = self_signed(tmp_path, "127.0.0.1")
    with tls_server(cert, key) as (port, received, handshakes):
        conn = RtspConnection(f"rtsps://127.0.0.1:{port}/main", 10, str(cert))
        conn.sock.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        conn.close()
        for _ in range(100):
            if received:
                break
            threading.Event().wait(0.05)
    assert b"".join(received).startswith(b"OPTIONS")


def test_an_unusable_ca_file_is_an_invalid_input(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    for path in (bad, tmp_path / "absent.pem"):
        with pytest.raises(StreamOpenError) as caught:
            client_context(str(path))
        assert caught.value.kind == "invalid" and str(path) in str(caught.value)


def test_the_tunnel_serves_this_process_only(sim, pki):
    """Another process on the host that reaches the loopback port first is turned away;
    FFmpeg, in this process, is then served."""
    tunnel = Tunnel(url_of(sim), 10, str(pki["ca"]))
    port = int(tunnel.url.rsplit(":", 1)[1].split("/")[0])
    script = ("import socket, sys\n"
              "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)\n"
              "s.sendall(b'OPTIONS * RTSP/1.0\\r\\nCSeq: 1\\r\\n\\r\\n')\n"
              "try:\n    print(len(s.recv(100)))\n"
              "except ConnectionResetError:\n    print(0)\n")
    stranger = subprocess.run([sys.executable, "-c", script, str(port)],
                              capture_output=True, text=True, timeout=60)
    assert stranger.stdout.strip() == "0", stranger  # closed on it, nothing answered
    import av

    with av.open(tunnel.url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
        assert container.streams.video
    tunnel.thread.join(10)
    assert not tunnel.thread.is_alive()  # FFmpeg closed its side: the tunnel ended


def test_a_tunnel_nobody_used_ends_when_closed_not_at_its_timeout(sim, pki):
    """FFmpeg failing before it connects (open_input closes the tunnel) must not leave the
    tunnel's thread waiting for the whole open timeout, nor its camera connection open."""
    tunnel = Tunnel(url_of(sim), 60, str(pki["ca"]))
    tunnel.close()
    tunnel.thread.join(10)
    assert not tunnel.thread.is_alive()
    assert tunnel.upstream.fileno() == -1


# Where camerahub calls av.open, and what on: none of these is a camera's URL. A camera is
# opened through video.source.open_input only, the door that never lets FFmpeg speak TLS.
AV_OPEN_ELSEWHERE = {
    "live/remux.py": "the fMP4 output written for viewers",
    "video/mask.py": "an export held in memory",
    "video/rtprecord.py": "a keyframe in memory (the template stream)",
    "video/segmenter.py": "the segment file being written",
    "video/clip.py": "stored segments and the clip being written",
    "video/probe.py": "segment files",
    "video/snapshot.py": "frames in memory",
}


def test_ffmpeg_opens_a_camera_only_through_the_verified_door():
    import ast

    root = Path(__file__).resolve().parents[2] / "camerahub"
    callers = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "open" and isinstance(node.func.value, ast.Name) and \
                    node.func.value.id == "av":
                callers.add(path.relative_to(root).as_posix())
    assert callers - {"video/source.py"} <= set(AV_OPEN_ELSEWHERE), (
        "av.open outside video.source: open cameras with video.source.open_input "
        f"(rtsps:// must go through the verified tunnel): {sorted(callers)}")
