"""RTP packetization of H.264 (RFC 6184) and RTCP sender reports (RFC 3550)."""

from __future__ import annotations

import dataclasses
import random
import struct
import time
from dataclasses import dataclass

from simulator.media import EncodedLoop, split_nals

PAYLOAD_TYPE = 96
CLOCK_RATE = 90_000
MAX_PAYLOAD = 1400  # keeps each packet under a 1500-byte MTU once headers are added
FU_A = 28
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 to 1970


def fragment_nal(nal: bytes, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """Payloads for one NAL: the NAL itself when it fits, else FU-A fragments."""
    if len(nal) <= max_payload:
        return [nal]
    indicator = (nal[0] & 0xE0) | FU_A
    nal_type = nal[0] & 0x1F
    body = nal[1:]
    chunk = max_payload - 2
    parts = []
    for pos in range(0, len(body), chunk):
        start = 0x80 if pos == 0 else 0
        end = 0x40 if pos + chunk >= len(body) else 0
        parts.append(bytes((indicator, start | end | nal_type)) + body[pos:pos + chunk])
    return parts


def access_unit_payloads(au: bytes) -> list[bytes]:
    """All RTP payloads of one access unit, in order; access unit delimiters dropped."""
    payloads = []
    for nal in split_nals(au):
        if nal[0] & 0x1F == 9:
            continue
        payloads.extend(fragment_nal(nal))
    return payloads


@dataclass
class PacketizedLoop:
    """A loop pre-split into RTP payloads so streaming only adds 12-byte headers."""

    loop: EncodedLoop
    payloads: list[list[bytes]]
    seq_prefix: list[int]  # packets sent before frame i within one loop
    packets_per_loop: int

    @classmethod
    def build(cls, loop: EncodedLoop) -> PacketizedLoop:
        """Packetize every access unit of the loop once."""
        payloads = [access_unit_payloads(au) for au in loop.frames]
        prefix, total = [], 0
        for frame in payloads:
            prefix.append(total)
            total += len(frame)
        # the payloads are copies: keep only the loop's metadata so memory is not doubled
        return cls(dataclasses.replace(loop, frames=[]), payloads, prefix, total)

    @property
    def ticks_per_frame(self) -> int:
        """90 kHz clock ticks between frames."""
        return CLOCK_RATE // self.loop.spec.fps

    def first_seq(self, frame_no: int) -> int:
        """Sequence number of frame `frame_no`'s first packet, continuous over loop wraps."""
        n = len(self.payloads)
        return (frame_no // n) * self.packets_per_loop + self.seq_prefix[frame_no % n]

    def is_keyframe(self, frame_no: int) -> bool:
        """Whether absolute frame `frame_no` is an IDR."""
        return self.loop.keyframes[frame_no % len(self.payloads)]

    def payload_sizes(self, frame_no: int) -> list[int]:
        """Sizes of the RTP payloads of absolute frame `frame_no`."""
        return [len(p) for p in self.payloads[frame_no % len(self.payloads)]]

    def rtp_packets(self, frame_no: int, ssrc: int, seq_base: int, ts_base: int) -> list[bytes]:
        """The RTP packets of absolute frame `frame_no`; marker set on the last one."""
        frame = self.payloads[frame_no % len(self.payloads)]
        seq = seq_base + self.first_seq(frame_no)
        ts = (ts_base + frame_no * self.ticks_per_frame) & 0xFFFFFFFF
        last = len(frame) - 1
        out = []
        for i, payload in enumerate(frame):
            marker = 0x80 if i == last else 0
            header = struct.pack("!BBHII", 0x80, marker | PAYLOAD_TYPE,
                                 (seq + i) & 0xFFFF, ts, ssrc)
            out.append(header + payload)
        return out


def garbage_packets(sizes: list[int], ssrc: int, seq: int, ts: int) -> list[bytes]:
    """Well-formed RTP headers (version 2, PT 96, marker on the last) around random payloads."""
    last = len(sizes) - 1
    return [struct.pack("!BBHII", 0x80, (0x80 if i == last else 0) | PAYLOAD_TYPE,
                        (seq + i) & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + random.randbytes(size)
            for i, size in enumerate(sizes)]


def jumping_timestamp(ts: int) -> int:
    """A timestamp that mostly races ahead (up to 4 s a frame), now and then leaps back or
    anywhere: stream time far ahead of the wall clock, with discontinuities."""
    step = random.random()
    if step < 0.8:
        ts += random.randrange(CLOCK_RATE * 4)
    elif step < 0.9:
        ts -= random.randrange(CLOCK_RATE * 10)
    else:
        ts = random.getrandbits(32)
    return ts & 0xFFFFFFFF


def interleave(channel: int, packets: list[bytes]) -> bytes:
    """Frame RTP/RTCP packets for RTSP interleaved TCP transport (RFC 2326 10.12)."""
    prefix = b"$" + bytes((channel,))
    return b"".join(prefix + struct.pack("!H", len(p)) + p for p in packets)


def sender_report(ssrc: int, rtp_ts: int, packets: int, octets: int,
                  now: float | None = None) -> bytes:
    """An RTCP SR (no report blocks) tying the RTP clock to wall-clock NTP time."""
    now = time.time() if now is None else now
    ntp = now + NTP_EPOCH_OFFSET
    ntp_sec = int(ntp)
    ntp_frac = int((ntp - ntp_sec) * (1 << 32)) & 0xFFFFFFFF
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, ntp_sec & 0xFFFFFFFF, ntp_frac,
                       rtp_ts & 0xFFFFFFFF, packets & 0xFFFFFFFF, octets & 0xFFFFFFFF)
