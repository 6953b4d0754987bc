"""NalCheck and keyframe_decodes: real H.264 passes, noise does not (no network)."""

from __future__ import annotations

import random

import av
import pytest

from camerahub.video.bitstream import (
    BitReader,
    FrameNumCheck,
    KeyframeCheck,
    NalCheck,
    keyframe_decodes,
)


def packets_of(path, count=60):
    """(stream, first packets) of a file."""
    container = av.open(str(path))
    stream = container.streams.video[0]
    found = []
    for packet in container.demux(stream):
        if packet.size:
            found.append(packet)
        if len(found) >= count:
            break
    return container, stream, found


@pytest.mark.parametrize("fixture", ["h264_ts", "h264_mp4"])
def test_real_packets_pass_and_their_keyframe_decodes(request, fixture):
    container, stream, packets = packets_of(request.getfixturevalue(fixture))
    with container:
        check = NalCheck(stream.codec_context.name, stream.codec_context.extradata)
        assert [check(bytes(p)) for p in packets] == [None] * len(packets)
        assert keyframe_decodes(stream, next(p for p in packets if p.is_keyframe))


@pytest.mark.parametrize(("data", "why"), [
    (b"\x00\x00\x00\x01\xe5\x88\x84", "forbidden bit"),
    (b"\x00\x00\x01\x67\x42\x00\x1e", "no slice"),  # parameter sets only
    (b"\x00\x00\x01\x71\x00\x00\x01\x65\x88", "reserved"),  # type 17
    (b"\x01\x02\x03\x65\x88", "no start code"),
])
def test_malformed_annexb_packets_are_refused(data, why):
    assert why in NalCheck("h264", None)(data)


def test_random_payloads_are_nearly_all_refused():
    rng = random.Random(3)
    check = NalCheck("h264", None)
    noise = [b"\x00\x00\x00\x01" + rng.randbytes(rng.randrange(20, 3000)) for _ in range(2000)]
    passed = sum(check(data) is None for data in noise)
    assert passed < len(noise) * 0.2  # a random NAL header is a slice about 1 in 13


def test_length_prefixed_units_must_fit_the_packet(h264_mp4):
    container, stream, packets = packets_of(h264_mp4, 1)
    with container:
        check = NalCheck("h264", stream.codec_context.extradata)
        assert "length" in check(bytes(packets[0])[:-10] + b"\x00\x00\x00\xff")


def test_hevc_headers_are_judged_too():
    check = NalCheck("hevc", None)
    assert check(b"\x00\x00\x01\x26\x01\xaf") is None  # IDR_W_RADL, temporal id 1
    assert "temporal id" in check(b"\x00\x00\x01\x26\x00\xaf")
    assert "reserved" in check(b"\x00\x00\x01\x5a\x01\xaf")  # type 45


def test_other_codecs_are_not_judged():
    assert NalCheck("mpeg4", None)(b"anything") is None


def test_a_keyframe_of_noise_does_not_decode(h264_ts):
    container, stream, packets = packets_of(h264_ts, 1)
    with container:
        key = packets[0]
        data = bytearray(bytes(key))
        rng = random.Random(5)
        for i in range(len(data) // 2, len(data)):
            data[i] = rng.randrange(256)
        noisy = av.Packet(bytes(data))
        assert not keyframe_decodes(stream, noisy)


def test_one_decoder_judges_keyframe_after_keyframe(h264_ts):
    """KeyframeCheck keeps its decoder: each keyframe is still judged on its own."""
    container, stream, packets = packets_of(h264_ts, 1)
    with container:
        keys = [p for p in packets if p.is_keyframe]
        data = bytearray(bytes(keys[0]))
        rng = random.Random(5)
        for i in range(len(data) // 2, len(data)):
            data[i] = rng.randrange(256)
        noisy = av.Packet(bytes(data))
        check = KeyframeCheck(stream)
        verdicts = [check(p) for p in (keys[0], keys[0], noisy, keys[0], noisy, noisy, keys[0])]
        assert verdicts == [True, True, False, True, False, False, True]


# baseline, B-frames (reference B-pictures too), MP4 with avcC, high profile
STREAMS = [{"bframes": 0}, {"bframes": 2}, {"bframes": 2, "container": "mp4"},
           {"bframes": 0, "profile": "high"}]


def _all_packets(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = (stream.codec_context.name, stream.codec_context.extradata)
        return codec, [p for p in container.demux(stream) if p.size]


@pytest.mark.parametrize("options", STREAMS)
def test_frame_numbers_of_a_whole_stream_report_nothing(h264, options):
    (name, extradata), packets = _all_packets(h264(4, **options))
    check = FrameNumCheck(name, extradata)
    assert [check(bytes(p)) for p in packets] == [None] * len(packets)


@pytest.mark.parametrize("options", STREAMS)
def test_a_lost_reference_frame_is_reported_once_and_an_idr_starts_afresh(h264, options):
    (name, extradata), packets = _all_packets(h264(4, **options))
    check = FrameNumCheck(name, extradata)
    # lose the first reference P-frame after the second keyframe (its NAL ref idc is set)
    second = [i for i, p in enumerate(packets) if p.is_keyframe][1]
    lost = next(i for i in range(second + 1, len(packets))
                if _is_reference(bytes(packets[i])))
    reports = [(i, check(bytes(p))) for i, p in enumerate(packets) if i != lost]
    found = [(i, why) for i, why in reports if why]
    assert len(found) == 1 and "missing" in found[0][1], found
    assert lost < found[0][0] < next(i for i, p in enumerate(packets)
                                     if p.is_keyframe and i > second)


def _is_reference(data: bytes) -> bool:
    """Whether a packet's first slice is a non-IDR reference picture."""
    pos = data.find(b"\x00\x00\x01")
    while pos >= 0:
        header = data[pos + 3] if pos + 3 < len(data) else 0
        if header & 0x1F == 1:
            return bool(header & 0x60)
        if header & 0x1F == 5:
            return False
        pos = data.find(b"\x00\x00\x01", pos + 3)
    # length-prefixed (MP4): four-byte lengths
    pos = 0
    while pos + 4 < len(data):
        length, header = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4]
        if header & 0x1F == 1:
            return bool(header & 0x60)
        if header & 0x1F == 5:
            return False
        pos += 4 + length
    return False


def test_other_codecs_and_unreadable_parameter_sets_report_nothing():
    assert FrameNumCheck("hevc", None)(b"\x00\x00\x01\x26\x01\xaf") is None
    check = FrameNumCheck("h264", b"\x00\x00\x00\x01\x67\x64")  # an SPS cut short
    assert check(b"\x00\x00\x00\x01\x41\x9a\x00") is None


def _ue_bit_by_bit(bits: str, pos: int) -> tuple[int, int] | None:
    """Rec. ITU-T H.264 9.1, one bit at a time: (value, next position), None past the end."""
    zeros = 0
    while pos < len(bits) and bits[pos] == "0":
        zeros, pos = zeros + 1, pos + 1
    if zeros > 31 or pos + 1 + zeros > len(bits):
        return None
    info = bits[pos + 1:pos + 1 + zeros]
    return (1 << zeros) - 1 + (int(info, 2) if info else 0), pos + 1 + zeros


@pytest.mark.parametrize("seed", range(200))
def test_exp_golomb_reader_reads_what_the_standard_says(seed):
    rng = random.Random(seed)
    data = bytes(rng.choice((0, 0, 0, 1, 2, 0x40, 0x80, 0xFF, rng.randrange(256)))
                 for _ in range(rng.randrange(1, 12)))
    bits, reader, pos = "".join(f"{b:08b}" for b in data), BitReader(data), 0
    while True:
        expected = _ue_bit_by_bit(bits, pos)
        if expected is None:
            with pytest.raises(ValueError):
                reader.ue()
            return
        assert reader.ue() == expected[0]
        pos = expected[1]
        assert reader.left == len(bits) - pos
