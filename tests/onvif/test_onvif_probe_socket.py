"""The probe on real UDP sockets against fake responders on this suite's loopback range.

Nothing here sends multicast: only directed probes to 127.W.53.x, where the test binds its
own fake devices on port 3702.
"""

from __future__ import annotations

import re
import socket
import threading

import pytest

from camerahub.onvif import ProbeError, WsDiscoveryProbe
from camerahub.onvif.wsdiscovery import PORT
from tests.onvif import wsd_payloads as p
from tests.support.simulators import subnet_prefixes

RANGE = subnet_prefixes(53)[0]  # 127.W.53.: this suite's fake devices
FAKE_A, FAKE_B, SILENT, NOISE = (f"{RANGE}{n}" for n in (200, 201, 202, 250))
EPR_A, EPR_B = "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001", "urn:uuid:bbbb-2"


class FakeDevice(threading.Thread):
    """Binds ADDR:3702, waits for Probes and answers each with a scripted list of datagrams."""

    def __init__(self, address: str, script, after: threading.Event | None = None):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, PORT))
        self.sock.settimeout(30)
        self.script = script  # callable(message_id, probe_number) -> list of datagrams
        self.after = after
        self.done = threading.Event()
        self.probes = 0

    def run(self):
        try:
            while not self.done.is_set():
                data, peer = self.sock.recvfrom(65536)
                self.probes += 1
                mid = re.search(rb"<a:MessageID>([^<]+)</a:MessageID>", data).group(1).decode()
                if self.after is not None:
                    self.after.wait(30)
                datagrams = self.script(mid, self.probes)
                for datagram in datagrams:
                    self.sock.sendto(datagram, peer)
                if datagrams:
                    self.done.set()
        except OSError:
            pass
        finally:
            self.sock.close()


def hostile_then_valid(mid: str, _n: int) -> list[bytes]:
    """Everything a confused or malicious device might send, then a good reply twice."""
    return [*p.GARBAGE, p.reply(relates="urn:uuid:not-ours", source=FAKE_A), p.HELLO,
            p.BILLION_LAUGHS, p.EXTERNAL_ENTITY, p.OVERSIZED, p.NOT_NVT,
            p.reply(relates=mid, epr=EPR_A, source=FAKE_A),
            p.reply(relates=mid, epr=EPR_A, source=FAKE_A)]


def test_hostile_replies_and_garbage_do_not_disturb_the_probe():
    fake_a = FakeDevice(FAKE_A, hostile_then_valid)
    fake_b = FakeDevice(FAKE_B, lambda mid, _n: [p.reply(relates=mid, epr=EPR_B,
                                                          source=FAKE_B)],
                        after=fake_a.done)
    seen = []
    with WsDiscoveryProbe([FAKE_A, FAKE_B], timeout=20) as probe:
        # garbage straight at the probe's own socket from an address it never probed
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as noise:
            noise.bind((NOISE, 0))
            for datagram in p.GARBAGE[1:] + [p.reply(source=NOISE)]:
                noise.sendto(datagram, probe.local_address)
        fake_a.start()
        fake_b.start()
        found = probe.run(on_match=seen.append)
    assert sorted(m.endpoint for m in found) == sorted([EPR_A, EPR_B])
    assert [m.endpoint for m in seen] == [EPR_A, EPR_B]  # the duplicate was not reported
    assert {m.address for m in found} == {FAKE_A, FAKE_B}
    assert all(m.xaddr.startswith(f"http://{m.address}:") for m in found)


def test_silent_device_is_asked_again():
    """WS-Discovery repeats a UDP Probe: a device that drops the first one is still found."""
    fake = FakeDevice(FAKE_A, lambda mid, n: [] if n == 1 else [
        p.reply(relates=mid, epr=EPR_A, source=FAKE_A)])
    fake.start()
    with WsDiscoveryProbe([FAKE_A, SILENT], timeout=20) as probe:
        stop = threading.Event()
        found = probe.run(on_match=lambda _m: stop.set(), stop=stop)
    assert [m.endpoint for m in found] == [EPR_A]
    assert fake.probes == 2


def test_stop_event_ends_the_listen_window():
    stop = threading.Event()
    stop.set()
    with WsDiscoveryProbe([SILENT], timeout=600) as probe:
        assert probe.run(stop=stop) == []


def test_multicast_is_refused_without_an_interface():
    with pytest.raises(ProbeError, match="interface"):
        WsDiscoveryProbe(multicast=True)
    with pytest.raises(ProbeError, match="nothing to probe"):
        WsDiscoveryProbe([])


def test_unknown_interface_is_refused():
    with pytest.raises(ProbeError, match="no-such-if0"):
        WsDiscoveryProbe(interface="no-such-if0").open()


def test_probe_socket_is_bound_to_a_concrete_loopback_address():
    with WsDiscoveryProbe([SILENT], timeout=1) as probe:
        host, port = probe.local_address
    assert host == "127.0.0.1" and port > 0
