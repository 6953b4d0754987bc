"""RTSP serving: real decoders (PyAV, OpenCV) and a raw client checking RTP details."""

from __future__ import annotations

import base64
import socket

import av
import cv2
import pytest

from tests.support.sim_clients import RtspClient, nal_types


def _decode_frames(url: str, count: int) -> list[av.VideoFrame]:
    with av.open(url, options={"rtsp_transport": "tcp", "stimeout": "20000000"},
                 timeout=20) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame)
            if len(frames) >= count:
                return frames
    return frames


@pytest.mark.parametrize(("profile", "size"), [("main", (1280, 720)), ("sub", (640, 360))])
def test_pyav_decodes_the_profile(sim, profile, size):
    frames = _decode_frames(sim.rtsp_url("hq-001", profile), 5)
    assert len(frames) == 5
    assert {(f.width, f.height) for f in frames} == {size}


def test_opencv_reads_frames_over_tcp(sim, monkeypatch):
    monkeypatch.setenv("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")
    cap = cv2.VideoCapture(sim.rtsp_url("fac-001", "sub"), cv2.CAP_FFMPEG)
    try:
        assert cap.isOpened()
        ok, image = cap.read()
        assert ok and image.shape == (360, 640, 3)
    finally:
        cap.release()


def test_pyav_with_wrong_password_is_refused(sim):
    url = sim.rtsp_url("hq-002").replace("admin:admin@", "admin:wrong@")
    with pytest.raises(av.error.FFmpegError):
        _decode_frames(url, 1)


def _client(sim, target: str = "hq-001", **kw) -> RtspClient:
    return RtspClient(sim.camera(target).address, sim.options.rtsp_port, **kw)


def test_digest_challenge_and_wrong_password(sim):
    client = _client(sim, password="wrong")
    try:
        reply = client.request("DESCRIBE", "main", auth=False)
        assert reply.status == 401
        assert reply.headers["www-authenticate"].startswith('Digest realm="')
        assert client.request("DESCRIBE", "main").status == 401
    finally:
        client.close()


def test_describe_sdp(sim):
    client = _client(sim)
    try:
        reply = client.request("DESCRIBE", "main")
        assert reply.status == 200 and reply.headers["content-type"] == "application/sdp"
        sdp = reply.body.decode()
        assert "a=rtpmap:96 H264/90000" in sdp and "packetization-mode=1" in sdp
        assert "profile-level-id=" in sdp and "a=control:trackID=1" in sdp
        assert "a=framerate:15" in sdp
        sprop = sdp.split("sprop-parameter-sets=")[1].split()[0].split(",")
        assert [base64.b64decode(p)[0] & 0x1F for p in sprop] == [7, 8]
    finally:
        client.close()


def test_rtp_starts_with_idr_and_follows_rtp_info(sim):
    client = _client(sim)
    try:
        reply = client.play("main")
        info = dict(kv.split("=", 1) for kv in reply.headers["rtp-info"].split(";")[1:])
        first = client.read_rtp()
        assert first.payload_type == 96
        assert (first.seq, first.ts) == (int(info["seq"]), int(info["rtptime"]))
        types = [nal_types(first.payload)]
        while types[-1] != 5:
            types.append(nal_types(client.read_rtp().payload))
        assert 7 in types and 8 in types  # SPS and PPS in-band before the IDR
    finally:
        client.close()


def test_rtp_is_continuous_across_the_loop_wrap(sim):
    """5 s of the 4 s loop: sequence numbers step by one, timestamps by 6000 per frame."""
    client = _client(sim)
    try:
        client.play("main")
        prev = client.read_rtp()
        frames = 0
        reports = []
        while frames < 90:
            pkt = client.read_packet()
            if pkt.channel == 1:
                reports.append(pkt)
                continue
            assert pkt.seq == (prev.seq + 1) & 0xFFFF
            if prev.marker:
                assert (pkt.ts - prev.ts) & 0xFFFFFFFF == 6000
                frames += 1
            else:
                assert pkt.ts == prev.ts
            prev = pkt
        # RTCP sender reports (PT 200) from the same SSRC arrive on the odd channel
        assert reports and all(r.payload_type | 0x80 == 200 for r in reports)
        assert {r.seq for r in reports} == {6} and reports[0].ts == prev.ssrc
    finally:
        client.close()


def test_fu_a_fragments_are_well_formed(sim):
    client = _client(sim)
    try:
        client.play("main")
        seen_fu = False
        while not seen_fu:
            pkt = client.read_rtp()
            if pkt.payload[0] & 0x1F == 28:
                seen_fu = True
                assert pkt.payload[1] & 0x80  # first fragment of the IDR has the start bit
                assert len(pkt.payload) <= 1400
    finally:
        client.close()


def test_keepalive_and_teardown(sim):
    client = _client(sim)
    try:
        client.play("sub")
        assert client.request("GET_PARAMETER", "sub").status == 200
        assert client.request("OPTIONS", "*").status == 200
        assert client.request("TEARDOWN", "sub").status == 200
        client.session = "bogus"
        assert client.request("PLAY", "sub").status == 454
    finally:
        client.close()


def test_unknown_path_is_404(sim):
    client = _client(sim)
    try:
        assert client.request("DESCRIBE", "nope").status == 404
    finally:
        client.close()


def test_pyav_decodes_over_udp(sim):
    with av.open(sim.rtsp_url("hq-002", "sub"), options={"rtsp_transport": "udp"},
                 timeout=20) as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (640, 360)


def test_udp_session_sends_to_the_client_ports(sim):
    client = _client(sim)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtp.settimeout(20)
    port = rtp.getsockname()[1]
    try:
        client.request("DESCRIBE", "sub")
        reply = client.request("SETUP", "sub/trackID=1", {
            "Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1};destination=10.9.9.9"})
        assert reply.status == 200 and "server_port=" in reply.headers["transport"]
        client.session = reply.headers["session"].split(";")[0]
        assert client.request("PLAY", "sub").status == 200
        data, sender = rtp.recvfrom(2048)
        assert sender[0] == sim.camera("hq-001").address and data[1] & 0x7F == 96
        assert client.request("TEARDOWN", "sub").status == 200
    finally:
        rtp.close()
        client.close()


def test_multicast_transport_is_refused(sim):
    client = _client(sim)
    try:
        client.request("DESCRIBE", "main")
        reply = client.request("SETUP", "main/trackID=1", {"Transport": "RTP/AVP;multicast"})
        assert reply.status == 461
    finally:
        client.close()


@pytest.mark.parametrize("garbage", [
    b"HELLO\r\n\r\n", b"DESCRIBE rtsp://x/main HTTP/1.1\r\nCSeq: 1\r\n\r\n",
    b"DESCRIBE rtsp://x/main RTSP/1.0\r\n\r\n", b"\xff\xfe\xfd\r\n\r\n",
    bytes(range(1, 64)) + b"\r\n\r\n", b"PLAY rtsp://x/main RTSP/1.0\r\nCSeq: 1\r\n"
    b"Content-Length: 99999999\r\n\r\n",
])
def test_malformed_rtsp_gets_an_error_and_server_keeps_serving(sim, garbage):
    cam = sim.camera("hq-001")
    with socket.create_connection((cam.address, sim.options.rtsp_port), timeout=20) as s:
        s.sendall(garbage)
        reply = s.recv(200)
        assert reply == b"" or reply.startswith(b"RTSP/1.0 4") or reply.startswith(b"RTSP/1.0 5")
    client = _client(sim)
    try:
        assert client.request("OPTIONS", "*").status == 200
    finally:
        client.close()


def test_many_clients_share_one_camera(sim):
    clients = [_client(sim, "hq-003") for _ in range(8)]
    try:
        for c in clients:
            c.play("sub")
        for c in clients:
            assert c.read_rtp().payload_type == 96
    finally:
        for c in clients:
            c.close()


def test_slow_reader_is_dropped_and_others_keep_streaming(heavy_sim, monkeypatch):
    from simulator import rtsp
    monkeypatch.setattr(rtsp, "MAX_CLIENT_BUFFER", 256 << 10)
    slow = _client(heavy_sim)
    fast = _client(heavy_sim)
    try:
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.play("main")
        fast.play("main")
        # the fast client keeps receiving all along while the slow one never reads
        dropped = False
        for _ in range(20_000):
            fast.read_rtp()
            if not heavy_sim.core.nodes["hq-001"].rtsp.sources["main"].sessions - {
                    fast_session(heavy_sim, fast)}:
                dropped = True
                break
        assert dropped, "slow client was never dropped"
    finally:
        slow.close()
        fast.close()


def fast_session(sim, client: RtspClient):
    for conn in sim.core.nodes["hq-001"].rtsp.connections:
        if conn.session is not None and conn.session.session_id == client.session:
            return conn.session
    return None
