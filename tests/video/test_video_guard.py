"""The watchdog's guard on real loopback TCP sockets: noise is cut as invalid, keepalive
answers alone as stalled, and the session's own connection is the one it finds."""

from __future__ import annotations

import socket
import time

import pytest

from camerahub.video.guard import (
    INVALID,
    NOISE_BYTES,
    STALLED,
    SessionGuard,
    connection_sockets,
    socket_inodes,
)

LIMIT_S = 5.0


@pytest.fixture
def connection():
    """(camera side, recorder side) of a TCP connection on 127.0.0.1."""
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname(), timeout=30)
    camera, _ = server.accept()
    server.close()
    yield camera, client
    camera.close()
    client.close()


def guarded(client: socket.socket) -> SessionGuard:
    guard = SessionGuard(LIMIT_S)
    guard.attach([client.dup()])
    return guard


def idle_for(guard: SessionGuard, seconds: float) -> None:
    """Pretend the last recordable packet came `seconds` ago (no sleeping)."""
    guard.last_ok = time.monotonic() - seconds


def wait_received(guard: SessionGuard, at_least: int) -> None:
    """Wait until the kernel counts the bytes (loopback: at once)."""
    deadline = time.monotonic() + 30
    while guard._bytes_received() < at_least:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_noise_without_footage_is_cut_as_invalid(connection):
    camera, client = connection
    guard = guarded(client)
    idle_for(guard, LIMIT_S + 1)
    guard.check()  # the baseline: nothing received yet
    camera.sendall(b"\x5a" * (NOISE_BYTES + 1))
    wait_received(guard, NOISE_BYTES + 1)
    guard.check()
    assert guard.fired == INVALID
    client.settimeout(30)
    received = b""
    while chunk := client.recv(65536):  # the reader's blocked read ends at once
        received += chunk
    assert len(received) <= NOISE_BYTES + 1
    guard.close()


def test_keepalive_answers_alone_are_a_stall_at_twice_the_limit(connection):
    camera, client = connection
    guard = guarded(client)
    idle_for(guard, LIMIT_S + 1)
    guard.check()
    camera.sendall(b"RTSP/1.0 200 OK\r\nCSeq: 7\r\n\r\n")
    wait_received(guard, 20)
    guard.check()
    assert guard.fired is None  # a few RTSP replies are not noise
    idle_for(guard, 2 * LIMIT_S + 1)
    guard.check()
    assert guard.fired == STALLED
    guard.close()


def test_progress_keeps_the_session(connection):
    camera, client = connection
    guard = guarded(client)
    camera.sendall(b"\x5a" * (4 * NOISE_BYTES))
    wait_received(guard, 4 * NOISE_BYTES)
    guard.progress()
    guard.check()
    assert guard.fired is None
    guard.close()


def test_the_connection_opened_to_the_camera_is_the_one_found():
    server = socket.create_server(("127.0.0.1", 0))
    other = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    unrelated = socket.create_connection(other.getsockname())  # before, and elsewhere
    before = socket_inodes()
    mine = socket.create_connection(("127.0.0.1", port))
    elsewhere = socket.create_connection(other.getsockname())  # during, but elsewhere
    try:
        found = connection_sockets(f"rtsp://admin:pw@127.0.0.1:{port}/main", before)
        assert [s.getsockname() for s in found] == [mine.getsockname()]
        assert found[0].fileno() != mine.fileno()  # a duplicate, ours to close
        for sock in found:
            sock.close()
        mine.getpeername()  # the session's own descriptor is untouched
    finally:
        for sock in (server, other, unrelated, mine, elsewhere):
            sock.close()
