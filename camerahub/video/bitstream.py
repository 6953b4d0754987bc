"""Is a packet plausibly H.264 or H.265 at all: NAL unit syntax, checked without decoding.

A camera that sends random payloads in well-formed RTP makes FFmpeg's depacketizer and
parser emit packets of noise, some of them flagged as keyframes. Decoding every packet to
find out would cost what stream copy saves, so each packet's NAL units are checked instead
(a few microseconds): the forbidden bit clear, no reserved type, at least one slice. Only
the keyframe that starts a segment is decoded (`keyframe_decodes`), strictly.
"""

from __future__ import annotations

import av

from camerahub.video.probe import strict_decoder

_START = b"\x00\x00\x01"
# H.264 (Rec. ITU-T H.264 table 7-1): 0 is unspecified, 17, 18, 22 and 23 are reserved; 24-31
# are unspecified (RTP aggregation types never reach a depacketized packet, vendors may use
# them in-band). Slices are 1-5.
_H264_BAD = frozenset({0, 17, 18, 22, 23})
_H264_SLICES = frozenset(range(1, 6))
# H.265 (table 7-1): 10-15, 22-31 and 41-47 are reserved; slices are 0-9 and 16-21.
_HEVC_BAD = frozenset({*range(10, 16), *range(22, 32), *range(41, 48)})
_HEVC_SLICES = frozenset({*range(0, 10), *range(16, 22)})


class NalCheck:
    """Checks packets of one stream; call it with a packet's bytes: None, or why not."""

    def __init__(self, codec: str, extradata: bytes | None) -> None:
        self.codec = codec if codec in ("h264", "hevc") else None
        # avcC/hvcC extradata (MP4 inputs): NAL units carry a length prefix, not a start code
        self.length_size = _length_size(codec, extradata)

    def __call__(self, data: bytes) -> str | None:
        """Why this packet is not valid H.264/H.265, or None (other codecs: always None)."""
        if self.codec is None:
            return None
        headers = self._headers(data)
        if isinstance(headers, str):
            return headers
        return self.judge(headers)

    def judge(self, headers: list[bytes]) -> str | None:
        """The same for a packet whose NAL units are already known: the first two bytes of
        each (an RTP depacketizer has them without scanning the packet for start codes)."""
        if self.codec is None:
            return None
        return _judge_h264(headers) if self.codec == "h264" else _judge_hevc(headers)

    def _headers(self, data: bytes) -> list[bytes] | str:
        """The first two bytes of every NAL unit, or why they cannot be found."""
        if self.length_size:
            return _prefixed_headers(data, self.length_size)
        return _annexb_headers(data)


def keyframe_decodes(stream: av.VideoStream, packet: av.Packet) -> bool:
    """Whether a keyframe decodes on its own, with a strict decoder, to a picture."""
    return KeyframeCheck(stream)(packet)


class KeyframeCheck:
    """keyframe_decodes for one stream's keyframes, one after another, with one decoder:
    creating a strict decoder cost about as much as a third of decoding a 1080p IDR."""

    def __init__(self, stream: av.VideoStream) -> None:
        self.stream = stream
        self.decoder: av.CodecContext | None = None

    def __call__(self, packet: av.Packet) -> bool:
        """Whether this keyframe decodes on its own (nothing of earlier ones is kept)."""
        decoder = self.decoder
        if decoder is None:
            decoder = strict_decoder(self.stream)
        else:
            decoder.flush_buffers()  # forget the last keyframe and its end of stream
        self.decoder = None
        try:
            ok = bool(decoder.decode(packet) or decoder.decode(None))
        except av.error.FFmpegError:
            return False  # a decoder that failed is not used again
        self.decoder = decoder
        return ok


def _length_size(codec: str, extradata: bytes | None) -> int:
    """NAL length-prefix size from avcC/hvcC extradata (version byte 1), or 0 for Annex B."""
    if not extradata or extradata[0] != 1:
        return 0
    if codec == "h264" and len(extradata) > 4:
        return (extradata[4] & 3) + 1
    if codec == "hevc" and len(extradata) > 21:
        return (extradata[21] & 3) + 1
    return 0


def _annexb_headers(data: bytes) -> list[bytes] | str:
    """NAL headers of an Annex B packet (start-code delimited)."""
    first = data.find(_START)
    if first < 0 or first > 1 or data[:first].strip(b"\x00"):
        return "no start code"
    headers, pos = [], first
    while pos >= 0:
        headers.append(data[pos + 3:pos + 5])
        pos = data.find(_START, pos + 3)
    return headers


def _prefixed_headers(data: bytes, size: int) -> list[bytes] | str:
    """NAL headers of a length-prefixed packet."""
    headers, pos = [], 0
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + size], "big")
        pos += size
        if length == 0 or pos + length > len(data):
            return "NAL unit length runs past the packet"
        headers.append(data[pos:pos + 2])
        pos += length
    return headers


def _judge_h264(headers: list[bytes]) -> str | None:
    """Why these H.264 NAL headers are not a frame, or None."""
    slices = False
    for header in headers:
        if not header:
            return "empty NAL unit"
        if header[0] & 0x80:
            return "forbidden bit set"
        kind = header[0] & 0x1F
        if kind in _H264_BAD:
            return f"reserved NAL unit type {kind}"
        slices = slices or kind in _H264_SLICES
    return None if slices else "no slice"


def _judge_hevc(headers: list[bytes]) -> str | None:
    """Why these H.265 NAL headers are not a frame, or None."""
    slices = False
    for header in headers:
        if len(header) < 2:
            return "empty NAL unit"
        if header[0] & 0x80:
            return "forbidden bit set"
        if not header[1] & 0x07:
            return "temporal id of zero"
        kind = (header[0] >> 1) & 0x3F
        if kind in _HEVC_BAD:
            return f"reserved NAL unit type {kind}"
        slices = slices or kind in _HEVC_SLICES
    return None if slices else "no slice"


# --- slice headers: noise that passed, and missing reference frames ----------------------
#
# Noise passes the NAL check about 1 time in 13 (a random header byte is a slice type with
# the forbidden bit clear), so the first bytes of each slice header are read too, without
# decoding: the slice type must exist (and be intra in an IDR), the picture parameter set it
# names must be one the stream sent, and every slice of a picture must name the same one and
# (H.264) the same frame_num (Rec. ITU-T H.264 7.4.3, H.265 7.4.7.1).
#
# A camera's stream that loses frames for less than the segmenter's frame-gap limit (a short
# stall, a lost burst) leaves no trace in the timestamps a demuxer reports worth acting on,
# but every frame after a lost reference frame, up to the next IDR, cannot decode. H.264
# numbers reference frames: each picture's frame_num is the previous reference picture's
# (PrevRefFrameNum) or one more, modulo MaxFrameNum, unless the SPS allows gaps (Rec. ITU-T
# H.264 7.4.3). Reading frame_num takes the SPS (log2_max_frame_num, separate colour planes,
# the gaps flag) and the first bytes of each slice header; nothing is decoded.


class InvalidSlice(Exception):
    """A slice header that cannot be this stream's: noise that passed the NAL check."""


class _Bits:
    """Exp-Golomb bit reader over RBSP bytes (emulation prevention already removed)."""

    def __init__(self, data: bytes) -> None:
        self.value, self.left = int.from_bytes(data, "big"), len(data) * 8

    def u(self, n: int) -> int:
        if n > self.left:
            raise ValueError("read past the end")
        self.left -= n
        return (self.value >> self.left) & ((1 << n) - 1)

    def ue(self) -> int:
        # zeros leading 0 bits, a 1, then zeros more bits: the code is that (2 zeros + 1)-bit
        # number minus 1; found with bit_length instead of bit by bit (every slice's header)
        left = self.left
        rest = self.value & ((1 << left) - 1)
        zeros = left - rest.bit_length()
        if zeros > 31:
            raise ValueError("exp-Golomb code too long")
        if 2 * zeros + 1 > left:
            raise ValueError("read past the end")
        self.left = left - 2 * zeros - 1
        return (rest >> self.left) - 1

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k % 2 else -(k // 2)


def _rbsp(nal: bytes, limit: int, header: int = 1) -> bytes:
    """The first bytes of a NAL unit's payload (after its HEADER bytes: 1 in H.264, 2 in
    H.265) with emulation prevention bytes removed."""
    return nal[header:limit].replace(b"\x00\x00\x03", b"\x00\x00")


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def _parse_sps(nal: bytes) -> tuple[int, int, bool, bool, int]:
    """(sps id, log2 MaxFrameNum, separate colour planes, frame_num gaps allowed,
    profile_idc)."""
    bits = _Bits(_rbsp(nal, 256))
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    sps_id = bits.ue()
    separate = False
    if profile in (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135):
        chroma = bits.ue()
        if chroma == 3:
            separate = bool(bits.u(1))
        bits.ue()  # bit depth luma
        bits.ue()  # bit depth chroma
        bits.u(1)  # qpprime_y_zero_transform_bypass
        if bits.u(1):  # seq_scaling_matrix_present
            for i in range(8 if chroma != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    log2_max_frame_num = bits.ue() + 4
    if sps_id > 31 or log2_max_frame_num > 16:
        raise ValueError("SPS out of range")
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    gaps_allowed = bool(bits.u(1))
    return sps_id, log2_max_frame_num, separate, gaps_allowed, profile


def _nal_units(data: bytes, length_size: int, keep: int = 1 << 30) -> list[bytes]:
    """A packet's NAL units (Annex B or length-prefixed), without start codes or lengths,
    each cut to its first KEEP bytes (the headers are all that is read)."""
    units: list[bytes] = []
    if length_size:
        pos = 0
        while pos + length_size <= len(data):
            length = int.from_bytes(data[pos:pos + length_size], "big")
            pos += length_size
            units.append(data[pos:pos + min(length, keep)])
            pos += length
        return units
    pos = data.find(_START)
    while pos >= 0:
        nxt = data.find(_START, pos + 3)
        end = nxt if nxt >= 0 else len(data)
        units.append(data[pos + 3:min(end, pos + 3 + keep)])
        pos = nxt
    return units


nal_units = _nal_units  # public: what a scan finds, to compare a depacketizer's units with
BitReader = _Bits  # public: the exp-Golomb reader, checked against the standard bit by bit


def _avcc_units(extradata: bytes) -> list[bytes]:
    """The SPS and PPS NAL units of avcC extradata (ISO/IEC 14496-15 5.3.3.1: the count of
    SPS is the low 5 bits of byte 5, each unit follows its 2-byte length, then the PPS)."""
    units, pos = [], 5
    for count_mask in (0x1F, 0xFF):
        if pos >= len(extradata):
            break
        count, pos = extradata[pos] & count_mask, pos + 1
        for _ in range(count):
            length = int.from_bytes(extradata[pos:pos + 2], "big")
            units.append(extradata[pos + 2:pos + 2 + length])
            pos += 2 + length
    return units


def _hvcc_units(extradata: bytes) -> list[bytes]:
    """The parameter set NAL units of hvcC extradata (ISO/IEC 14496-15 8.3.3.1: after 22
    bytes of fields, a count of arrays; each array is a type byte, a 2-byte count of units,
    each unit after its 2-byte length)."""
    units, pos = [], 23
    for _ in range(extradata[22] if len(extradata) > 22 else 0):
        count, pos = int.from_bytes(extradata[pos + 1:pos + 3], "big"), pos + 3
        for _ in range(count):
            if pos + 2 > len(extradata):
                return units  # counts that run past the end (hostile or cut short)
            length = int.from_bytes(extradata[pos:pos + 2], "big")
            units.append(extradata[pos + 2:pos + 2 + length])
            pos += 2 + length
    return units


_HEADER_BYTES = HEADER_BYTES = 256  # of a NAL unit: enough for an SPS to its frame_num fields
_EXTENDED = 88  # profile_idc of H.264's Extended profile, the one with data partitions


class SliceCheck:
    """Reads the slice headers of one stream's packets, in decode order (H.264, H.265).

    Call it with a packet's bytes: None, or (H.264) which reference frames went missing; it
    raises InvalidSlice for a packet whose slices cannot be this stream's, and then keeps
    nothing of it (parameter sets it carried are not the stream's). After a report it
    follows the stream again from the packet reported, so one loss is reported once; an IDR
    starts afresh. Until the stream has sent a picture parameter set nothing is judged;
    parameter sets it cannot read, in a packet it accepts, switch it off for their stream
    (nothing is reported rather than something wrong). Other codecs: always None."""

    def __init__(self, codec: str, extradata: bytes | None) -> None:
        self.codec = codec
        self.enabled = codec in ("h264", "hevc")
        self.length_size = _length_size(codec, extradata)
        self.sps: dict[int, tuple[int, int, bool, bool, int]] = {}
        self.pps: dict[int, int] = {}  # pps id -> sps id
        self.prev: int | None = None  # PrevRefFrameNum; None until an IDR
        self.unreadable = False
        if self.enabled and extradata:
            if not self.length_size:
                units = _nal_units(extradata, 0)
            else:
                units = _avcc_units(extradata) if codec == "h264" else _hvcc_units(extradata)
            try:
                for nal in units:
                    self._parameter_set(nal)
            except InvalidSlice:
                self.unreadable = True  # parameter sets out of order: judge nothing
            self.enabled = not self.unreadable

    def __call__(self, data: bytes) -> str | None:
        if not self.enabled:
            return None
        return self.units(_nal_units(data, self.length_size, _HEADER_BYTES))

    def units(self, nals: list[bytes]) -> str | None:
        """The same for a packet's NAL units already split (each at least its first
        HEADER_BYTES bytes, or whole), without start codes."""
        if not self.enabled:
            return None
        known = self.sps, self.pps
        self.unreadable = False
        try:
            missing = self._hevc(nals) if self.codec == "hevc" else self._h264(nals)
        except InvalidSlice:
            self.sps, self.pps = known
            raise
        if self.unreadable:
            self.enabled = False
        return missing

    def _parameter_set(self, nal: bytes) -> None:
        """Take an SPS or PPS (copied on write: a refused packet's are dropped whole)."""
        hevc = self.codec == "hevc"
        kind = ((nal[0] >> 1) & 0x3F if hevc else nal[0] & 0x1F) if nal else 0
        try:
            if kind == (33 if hevc else 7):
                if not hevc:
                    parsed = _parse_sps(nal)
                    self.sps = {**self.sps, parsed[0]: parsed}
            elif kind == (34 if hevc else 8):
                bits = _Bits(_rbsp(nal, 16, 2 if hevc else 1))
                pps_id, sps_id = bits.ue(), bits.ue()
                if pps_id > (63 if hevc else 255) or sps_id > (15 if hevc else 31):
                    raise ValueError("PPS out of range")
                if self.sps and sps_id not in self.sps:
                    raise InvalidSlice(f"a picture parameter set names sequence parameter "
                                       f"set {sps_id}, which the stream never sent")
                self.pps = {**self.pps, pps_id: sps_id}
        except ValueError:
            self.unreadable = True

    def _known_pps(self, pps_id: int) -> int:
        """The SPS id of a slice's PPS (-1 before any PPS came); InvalidSlice for an id the
        stream never sent."""
        if not self.pps:
            return -1
        sps_id = self.pps.get(pps_id)
        if sps_id is None:
            raise InvalidSlice(f"a slice names picture parameter set {pps_id}, which the "
                               "stream never sent")
        return sps_id

    def _h264(self, nals: list[bytes]) -> str | None:
        first: tuple[int, int | None, int] | None = None  # the picture's first slice
        reference = False
        for nal in nals:
            if not nal:
                continue
            kind = nal[0] & 0x1F
            if kind in (7, 8):
                self._parameter_set(nal)
            elif kind in (1, 5):
                header = self._h264_slice(nal, kind)
                if header is None:
                    continue
                if first is None:
                    first, reference = header, bool(nal[0] & 0x60)
                elif header != first:
                    raise InvalidSlice("the slices of one picture disagree")
            elif kind in (2, 3, 4) and self.sps and \
                    all(sps[4] != _EXTENDED for sps in self.sps.values()):
                raise InvalidSlice("a data partition, which only the Extended profile has")
        if first is None or first[1] is None:
            return None
        return self._frame_num(first[0], first[1], first[2] == 5, reference)

    def _h264_slice(self, nal: bytes, kind: int) -> tuple[int, int | None, int] | None:
        """(pps id, frame_num or None where its SPS is unknown, NAL type) of a slice, None
        for a header too short to read (the NAL check passed it: not for us to judge)."""
        try:
            bits = _Bits(_rbsp(nal, 24))
            bits.ue()  # first_mb_in_slice
            slice_type, pps_id = bits.ue(), bits.ue()
        except ValueError:
            return None
        if slice_type > 9:
            raise InvalidSlice(f"slice type {slice_type} does not exist")
        if kind == 5 and (slice_type % 5 not in (2, 4) or not nal[0] & 0x60):
            raise InvalidSlice("an IDR slice that is not an intra reference picture")
        sps = self.sps.get(self._known_pps(pps_id))
        if sps is None:
            return pps_id, None, kind
        try:
            if sps[2]:
                bits.u(2)  # colour_plane_id
            frame_num = bits.u(sps[1])
        except ValueError:
            return None
        if kind == 5 and frame_num:
            raise InvalidSlice(f"an IDR picture numbered {frame_num}, not 0")
        return pps_id, frame_num, kind

    def _frame_num(self, pps_id: int, frame_num: int, idr: bool,
                   reference: bool) -> str | None:
        """Which reference frames are missing before this picture, or None."""
        _, log2_max, _, gaps_allowed, _ = self.sps[self.pps[pps_id]]
        if idr:
            self.prev = frame_num
            return None
        prev, modulus = self.prev, 1 << log2_max
        if reference:
            self.prev = frame_num
        if prev is None or gaps_allowed or frame_num in (prev, (prev + 1) % modulus):
            return None
        if not reference:
            self.prev = (frame_num - 1) % modulus  # follow the stream from here on
        missing = (frame_num - prev - 1) % modulus
        return f"{missing} reference frame(s) missing (frame_num {prev} -> {frame_num})"

    def _hevc(self, nals: list[bytes]) -> None:
        """H.265: each slice names a PPS the stream sent, the same for the whole picture."""
        named: int | None = None
        for nal in nals:
            if len(nal) < 2:
                continue
            kind = (nal[0] >> 1) & 0x3F
            if kind in (33, 34):
                self._parameter_set(nal)
            elif kind in _HEVC_SLICES:
                try:
                    bits = _Bits(_rbsp(nal, 24, 2))
                    bits.u(1)  # first_slice_segment_in_pic_flag
                    if 16 <= kind <= 23:
                        bits.u(1)  # no_output_of_prior_pics_flag
                    pps_id = bits.ue()
                except ValueError:
                    continue
                if pps_id > 63:
                    raise InvalidSlice(f"picture parameter set {pps_id} does not exist")
                self._known_pps(pps_id)
                if named is not None and pps_id != named:
                    raise InvalidSlice("the slices of one picture disagree")
                named = pps_id
