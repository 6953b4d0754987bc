"""RTP over interleaved RTSP/TCP to H.264 access units (RFC 2326 10.12, RFC 3550, RFC 6184).

`H264Depacketizer.feed` takes the bytes of one camera's connection as they were read, in
chunks of any size, and hands whole access units (Annex B, start codes) to `on_unit` with
their RTP timestamp unwrapped to 64 bits. Nothing is decoded.

Hostile or broken input is dropped here, never joined into a unit: frames that are not `$`
are skipped (an RTSP answer among the data, such as a keepalive's, is skipped whole; other
bytes until the next `$`), RTP must be version 2 with the session's payload type, packets of
another SSRC than the first are ignored, and only single NAL units (1-23), STAP-A and FU-A
(packetization modes 0 and 1) are taken, FU-A fragments in order. Whenever something is
lost (a sequence number gap, a broken fragment, a unit over MAX_UNIT, an aggregate that does
not add up, a timestamp that does not advance) the unit being built is dropped and
`on_loss` is told why: the pictures that follow may refer to what was lost, so the segmenter
ends the open segment at its last whole picture and resumes at a keyframe that decodes.

RTCP from the camera (odd channel) is read for its sender reports only: `receiver_report`
builds the RTCP receiver report (RFC 3550 6.4.2) that tells the camera we still listen.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable

START = b"\x00\x00\x00\x01"
MAX_UNIT = 8 << 20  # an access unit larger than this is refused (no camera sends one)
MAX_RTSP_HEAD = 16 << 10  # an RTSP message among the data
NAL_PREFIX = 256  # bytes of each NAL unit handed over beside the unit (headers to check)
_BYTE = [bytes((i,)) for i in range(256)]
_RTP = struct.Struct("!BBHII")
# (timestamp, access unit, is IDR, the first NAL_PREFIX bytes of each of its NAL units)
UnitSink = Callable[[int, bytes, bool, list[bytes]], None]


class H264Depacketizer:
    """One camera's interleaved stream in, whole H.264 access units out (see module text)."""

    def __init__(self, on_unit: UnitSink, on_loss: Callable[[str], None], payload_type: int,
                 parameter_sets: list[bytes] | None = None,
                 on_message: Callable[[bytes], None] | None = None) -> None:
        self.on_unit, self.on_loss, self.payload_type = on_unit, on_loss, payload_type
        self.on_message = on_message  # the head of each RTSP answer found among the data
        self.parameter_sets = b"".join(START + p for p in parameter_sets or [])
        self.parameter_nals = [p[:NAL_PREFIX] for p in parameter_sets or []]
        self.nals: list[bytes] = []
        self.pending = b""
        self.skip = 0  # bytes of an RTSP message's body still to skip
        self.ssrc: int | None = None
        self.seq: int | None = None
        self.parts: list = []
        self.size = 0
        self.unit_ts: int | None = None
        self.key = self.has_sps = self.in_fu = False
        self.ext_ts: int | None = None
        self.last_raw = 0
        # receiver statistics (RFC 3550 A.3) and counts
        self.base_seq: int | None = None
        self.cycles = 0
        self.received = self.expected_prior = self.received_prior = 0
        self.sr_ntp_mid = 0  # middle 32 bits of the last sender report's NTP time
        self.sr_at = 0.0  # monotonic time it arrived
        self.packets = self.units = self.losses = self.skipped_bytes = self.rtcp = 0

    # --- framing --------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> None:
        """Take the next bytes read from the connection."""
        if self.skip:
            take = min(self.skip, len(chunk))
            self.skip -= take
            chunk = chunk[take:]
        data = self.pending + chunk if self.pending else chunk
        view = memoryview(data)
        n, pos = len(data), 0
        while pos + 4 <= n:
            if data[pos] != 0x24:
                nxt = self._resync(data, pos)
                if nxt is None:
                    break  # an RTSP message whose head is not complete yet
                pos = nxt
                continue
            end = pos + 4 + ((data[pos + 2] << 8) | data[pos + 3])
            if end > n:
                break
            channel = data[pos + 1]
            if channel == 0:
                self._packet(data, view, pos + 4, end)
            elif channel == 1:
                self._rtcp(data, pos + 4, end)
            pos = end
        if pos > n:
            self.skip, pos = pos - n, n
        self.pending = data[pos:] if pos < n else b""

    def _resync(self, data: bytes, pos: int) -> int | None:
        """Not a `$` frame: skip an RTSP message whole, anything else up to the next `$`."""
        if data.startswith(b"RTSP/", pos) or (len(data) - pos < 5
                                              and b"RTSP/".startswith(data[pos:])):
            end = data.find(b"\r\n\r\n", pos)
            if end < 0:
                if len(data) - pos <= MAX_RTSP_HEAD:
                    return None
                self.skipped_bytes += len(data) - pos
                return len(data)
            if self.on_message is not None:
                self.on_message(data[pos:end])
            head = data[pos:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                digits = head[at + 15:].split(b"\r\n", 1)[0].strip()
                length = int(digits) if digits.isdigit() and len(digits) < 7 else 0
            return end + 4 + length
        nxt = data.find(b"$", pos + 1)
        nxt = nxt if nxt >= 0 else len(data)
        self.skipped_bytes += nxt - pos
        return nxt

    # --- RTP ------------------------------------------------------------------------------

    def _lose(self, why: str) -> None:
        """Drop the unit being built and say what was lost."""
        self.parts, self.size, self.in_fu, self.key, self.has_sps = [], 0, False, False, False
        self.nals = []
        self.unit_ts = None
        self.losses += 1
        self.on_loss(why)

    def _packet(self, data: bytes, view: memoryview, s: int, end: int) -> None:
        if end - s < 13:
            return
        b0, b1, seq, ts, ssrc = _RTP.unpack_from(data, s)
        if b0 >> 6 != 2 or (b1 & 0x7F) != self.payload_type:
            return
        if self.ssrc is None:
            self.ssrc, self.base_seq = ssrc, seq
        elif ssrc != self.ssrc:
            return
        self.packets += 1
        self.received += 1
        if self.seq is not None and seq != (self.seq + 1) & 0xFFFF:
            if ((seq - self.seq) & 0xFFFF) >= 0x8000:
                return  # late or duplicate (cannot happen over TCP; a hostile camera)
            self._lose(f"{(seq - self.seq - 1) & 0xFFFF} RTP packets lost")
        if self.seq is not None and seq < self.seq:
            self.cycles += 1 << 16
        self.seq = seq
        s += 12 + 4 * (b0 & 0x0F)  # CSRCs
        if b0 & 0x10:  # header extension
            if s + 4 > end:
                return
            s += 4 + 4 * ((data[s + 2] << 8) | data[s + 3])
        if b0 & 0x20 and end > s:  # padding
            end -= data[end - 1]
        if s >= end:
            return
        if self.parts and ts != self.unit_ts:
            self._finish()  # a new timestamp although the last unit had no marker
        self.unit_ts = ts
        nal = data[s]
        kind = nal & 0x1F
        parts = self.parts
        if kind == 28:  # FU-A
            if end - s < 3:
                return self._lose("short FU-A")
            fu = data[s + 1]
            if fu & 0x80:
                if self.in_fu:
                    return self._lose("FU-A started twice")
                self.in_fu = True
                inner = fu & 0x1F
                self._note(inner)
                parts.append(START)
                parts.append(_BYTE[(nal & 0xE0) | inner])
                self.nals.append(_BYTE[(nal & 0xE0) | inner]
                                 + data[s + 2:min(end, s + 1 + NAL_PREFIX)])
            elif not self.in_fu:
                return self._lose("FU-A without its start")
            parts.append(view[s + 2:end])
            self.size += end - s
            if fu & 0x40:
                self.in_fu = False
        elif self.in_fu:
            return self._lose("FU-A without its end")
        elif 1 <= kind <= 23:
            self._note(kind)
            parts.append(START)
            parts.append(view[s:end])
            self.nals.append(data[s:min(end, s + NAL_PREFIX)])
            self.size += end - s + 4
        elif kind == 24:  # STAP-A
            p = s + 1
            while p + 2 <= end:
                size = (data[p] << 8) | data[p + 1]
                p += 2
                if size == 0 or p + size > end:
                    return self._lose("STAP-A that does not add up")
                self._note(data[p] & 0x1F)
                parts.append(START)
                parts.append(view[p:p + size])
                self.nals.append(data[p:p + min(size, NAL_PREFIX)])
                self.size += size + 4
                p += size
        else:
            return self._lose(f"NAL unit type {kind} is not H.264 packetization mode 0 or 1")
        if self.size > MAX_UNIT:
            return self._lose("access unit too large")
        if b1 & 0x80:
            self._finish()

    def _note(self, kind: int) -> None:
        if kind == 5:
            self.key = True
        elif kind == 7:
            self.has_sps = True

    def _finish(self) -> None:
        parts, key, raw, has_sps = self.parts, self.key, self.unit_ts, self.has_sps
        nals = self.nals
        self.parts, self.size, self.key, self.has_sps, self.unit_ts = [], 0, False, False, None
        self.nals = []
        if self.in_fu:
            self.in_fu = False
            return self._lose("FU-A without its end")
        if not parts or raw is None:
            return None
        if self.ext_ts is None:
            ext = 1 << 33  # positive whatever the camera's jumps
        else:
            delta = (raw - self.last_raw) & 0xFFFFFFFF
            if delta == 0:
                return self._lose("an access unit's timestamp did not advance")
            ext = self.ext_ts + (delta if delta < 1 << 31 else delta - (1 << 32))
        self.ext_ts, self.last_raw = ext, raw
        if key and not has_sps and self.parameter_sets:
            parts.insert(0, self.parameter_sets)
            nals = self.parameter_nals + nals
        self.units += 1
        self.on_unit(ext, b"".join(parts), key, nals)
        return None

    # --- RTCP -----------------------------------------------------------------------------

    def _rtcp(self, data: bytes, s: int, end: int) -> None:
        """Note the camera's sender reports (compound packets: walk every part)."""
        self.rtcp += 1
        while s + 8 <= end:
            length = 4 * (((data[s + 2] << 8) | data[s + 3]) + 1)
            if data[s] >> 6 != 2 or s + length > end:
                return
            if data[s + 1] == 200 and length >= 28:  # SR
                self.sr_ntp_mid = struct.unpack_from("!I", data, s + 10)[0]
                self.sr_at = time.monotonic()
            s += length

    def receiver_report(self, our_ssrc: int) -> bytes:
        """An interleaved RTCP receiver report on channel 1 (empty before any RTP)."""
        if self.ssrc is None or self.seq is None or self.base_seq is None:
            return b""
        highest = self.cycles + self.seq
        expected = highest - self.base_seq + 1
        lost = max(0, min(expected - self.received, 0x7FFFFF))
        interval_expected = expected - self.expected_prior
        interval_received = self.received - self.received_prior
        self.expected_prior, self.received_prior = expected, self.received
        interval_lost = interval_expected - interval_received
        fraction = 0 if interval_expected <= 0 or interval_lost <= 0 else \
            min(255, (interval_lost << 8) // interval_expected)
        dlsr = 0 if not self.sr_at else int((time.monotonic() - self.sr_at) * 65536)
        body = struct.pack("!BBHII", 0x81, 201, 7, our_ssrc, self.ssrc)
        body += struct.pack("!I", (fraction << 24) | lost)
        body += struct.pack("!IIII", highest & 0xFFFFFFFF, 0, self.sr_ntp_mid,
                            dlsr & 0xFFFFFFFF)
        return b"$\x01" + struct.pack("!H", len(body)) + body
