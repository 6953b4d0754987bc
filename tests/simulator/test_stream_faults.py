"""Broken and hostile streams after PLAY (garbage_rtp, random_bytes) and the sent log."""

from __future__ import annotations

import time

import httpx
import pytest

from simulator.state import FaultSpecError, parse_fault_spec
from tests.support.sim_clients import RtspClient, nal_types

VALID_H264 = {1, 5, 6, 7, 8, 28}  # what the simulator's encoder and packetizer send


def _rtsp(sim, target: str = "hq-001") -> RtspClient:
    return RtspClient(sim.camera(target).address, sim.options.rtsp_port)


def _packets(client: RtspClient, count: int) -> list:
    return [client.read_rtp() for _ in range(count)]


def _garbled(payload: bytes) -> bool:
    """Not a payload the simulator's packetizer would send."""
    return bool(payload[0] & 0x80) or nal_types(payload) not in VALID_H264


@pytest.mark.parametrize("mode", ["advance", "jump"])
def test_garbage_rtp_keeps_rtp_well_formed_around_random_payloads(fault_sim, mode):
    client = _rtsp(fault_sim)
    try:
        client.play("sub")
        healthy = _packets(client, 30)
        assert not any(_garbled(p.payload) for p in healthy)
        fault_sim.set_faults("hq-001", garbage_rtp=mode)
        client.request("GET_PARAMETER", "sub")  # what was sent before the fault comes first
        garbage = _packets(client, 200)
        # RTP itself stays valid: same SSRC, payload type, sequence numbers in order
        assert {(p.ssrc, p.payload_type) for p in garbage} == {(healthy[0].ssrc, 96)}
        assert all((b.seq - a.seq) % 65536 == 1 for a, b in zip(garbage, garbage[1:]))
        assert sum(_garbled(p.payload) for p in garbage) > 50
        steps = {(b.ts - a.ts) % 2**32 for a, b in zip(garbage, garbage[1:]) if b.ts != a.ts}
        if mode == "advance":
            assert steps == {9000}  # the sub profile's frame clock: 90 kHz / 10 fps
        else:
            assert max(steps) > 90_000  # leaps of more than a second
        fault_sim.clear_faults("hq-001")
        client.request("GET_PARAMETER", "sub")
        assert not any(_garbled(p.payload) for p in _packets(client, 30))
    finally:
        client.close()


def test_random_bytes_replace_rtp_and_keep_the_connection(fault_sim):
    client = _rtsp(fault_sim)
    try:
        client.play("sub")
        client.read_rtp()
        fault_sim.set_faults("hq-001", random_bytes=True)
        client.request("GET_PARAMETER", "sub")
        client.buf = b""
        received = b""
        while len(received) < 64 * 1024:
            received += client.sock.recv(65536)
        assert not _interleaved_throughout(received)
        # a client answering what it took for a request does not end the session
        client.send_raw(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 2\r\n\r\nok")
        more = client.sock.recv(65536)
        assert more
        fault_sim.clear_faults("hq-001")
    finally:
        client.close()


def _interleaved_throughout(data: bytes) -> bool:
    """Whether data parses as back-to-back `$`-framed interleaved packets."""
    pos = 0
    while pos + 4 <= len(data):
        if data[pos:pos + 1] != b"$":
            return False
        pos += 4 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return True


def test_sent_log_records_when_keyframes_and_sessions_started(fault_sim):
    client = _rtsp(fault_sim)
    try:
        client.play("sub")
        first = client.read_rtp()
        received_at = time.time()
        while True:  # the next keyframe's first packet (the SPS that opens its access unit)
            packet = client.read_rtp()
            if nal_types(packet.payload) == 7:
                key_at, key_ts = time.time(), packet.ts
                break
    finally:
        client.close()
    log = httpx.get(f"{fault_sim.control_url}/cameras/hq-001/sent", timeout=20).json()["sub"]
    (session,) = log["sessions"]
    assert session["rtp_ts"] == first.ts
    assert 0 <= received_at - session["wall"] < 0.5  # sent before it was received
    keyframe = next(k for k in log["keyframes"] if k["rtp_ts"] == key_ts)
    assert 0 <= key_at - keyframe["wall"] < 0.5
    assert fault_sim.sent("hq-001")["sub"]["keyframes"][0] == log["keyframes"][0]


@pytest.mark.parametrize(("spec", "expected"), [
    ("hq-001:garbage-rtp", {"garbage_rtp": "jump"}),
    ("hq-001:garbage_rtp=advance", {"garbage_rtp": "advance"}),
    ("hq-001:random-bytes", {"random_bytes": True}),
    ("hq-001:garbage-rtp=off", {"garbage_rtp": None}),
])
def test_stream_fault_specs(spec, expected):
    assert parse_fault_spec(spec) == ("hq-001", expected)


def test_unknown_garbage_mode_is_refused(fault_sim):
    with pytest.raises(FaultSpecError):
        parse_fault_spec("hq-001:garbage-rtp=sideways")
    reply = httpx.post(f"{fault_sim.control_url}/cameras/hq-001/faults",
                       json={"garbage_rtp": "sideways"}, timeout=20)
    assert reply.status_code == 400


def test_a_simulator_held_up_over_2_s_skips_frames_and_says_so(fault_sim):
    """A machine too busy to run the simulator makes it skip frames to rejoin its clock:
    a loss of the camera's, which tests of recorders tell from their recorder's by the
    sent log's `skips`."""
    client = _rtsp(fault_sim)
    try:
        client.play("sub")
        client.read_rtp()
        before = len(fault_sim.sent("hq-001")["sub"]["skips"])

        async def hold_up() -> None:
            time.sleep(2.6)  # the event loop itself held up, as by a starved process

        fault_sim._call(hold_up(), 30)
        deadline = time.monotonic() + 30
        while len(fault_sim.sent("hq-001")["sub"]["skips"]) == before:
            assert time.monotonic() < deadline, "no skip was logged"
            client.read_rtp()
    finally:
        client.close()
    skip = fault_sim.sent("hq-001")["sub"]["skips"][-1]
    assert skip["frames"] >= 2 * 10  # over 2 s of the sub profile's frames
    assert abs(time.time() - skip["wall"]) < 30
