"""Run inside a private network namespace: multicast discovery against 100 cameras.

Prints one JSON object: Hellos seen at start, ProbeMatches per probe, Byes seen at stop.
Only ever executed by tests/simulator/test_discovery_multicast.py under `unshare -n`.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script

from simulator.testing import running_process  # noqa: E402
from tests.support.sim_clients import parse_probe_match, probe_message  # noqa: E402

GROUP, PORT = "239.255.255.250", 3702
ACTION = "http://schemas.xmlsoap.org/ws/2005/04/discovery/"


SO_RCVBUFFORCE = 33  # Linux; not exported by the socket module


def big_buffer(sock: socket.socket) -> None:
    """Room for 100 answers arriving together (root may exceed rmem_max)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
    except OSError:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)


def listener() -> socket.socket:
    """Joined to the group on lo, to see Hello and Bye announcements."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    big_buffer(sock)
    sock.bind((GROUP, PORT))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                    socket.inet_aton(GROUP) + socket.inet_aton("127.0.0.1"))
    return sock


def prober() -> socket.socket:
    """A plain UDP socket on lo that sends multicast probes."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    big_buffer(sock)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def announcements(sock: socket.socket, action: str, want: int, timeout: float) -> dict:
    """Sender address -> datagram, for announcements of one kind."""
    seen: dict = {}
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, addr = sock.recvfrom(65535)
        except TimeoutError:
            break
        if f"{ACTION}{action}</".encode() in data:
            seen[addr[0]] = data.decode()
    return seen


def collect(sock: socket.socket, want: int, timeout: float) -> list:
    """ProbeMatches until `want` arrived or the timeout passed."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < want and time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data, addr = sock.recvfrom(65535)
        except TimeoutError:
            break
        out.append({"from": addr, **{k: v for k, v in parse_probe_match(data).items()
                                     if k != "types_nsmap"}})
    return out


def main() -> None:
    group = listener()
    result: dict = {}
    with running_process("--cameras", "100", "--interface", "lo", subnet=61) as (proc, _):
        result["hello"] = sorted(announcements(group, "Hello", 100, 60))
        sock = prober()
        filtered, data = probe_message(types="x:Printer")
        sock.sendto(data, (GROUP, PORT))
        plain, data = probe_message()
        sock.sendto(data, (GROUP, PORT))
        result["filtered_mid"], result["plain_mid"] = filtered, plain
        result["matches"] = collect(sock, 100, 60)
        proc.stop()
        result["bye"] = sorted(announcements(group, "Bye", 100, 30))
        result["exit_code"] = proc.proc.returncode
    print(json.dumps(result))


if __name__ == "__main__":
    main()
