"""NalCheck, SliceCheck and keyframe_decodes: real H.264 and H.265 pass, noise does not
(no network)."""

from __future__ import annotations

import contextlib
import random

import av
import pytest

from camerahub.video.bitstream import (
    BitReader,
    InvalidSlice,
    KeyframeCheck,
    NalCheck,
    SliceCheck,
    keyframe_decodes,
)
from tests.support.media import annexb, h264_slice, rbsp_bytes, ue_bits


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


# baseline, B-frames (reference B-pictures too), MP4 with avcC, high profile, four slices
# a picture, H.265 in MPEG-TS and in MP4 (hvcC)
STREAMS = [{"bframes": 0}, {"bframes": 2}, {"bframes": 2, "container": "mp4"},
           {"bframes": 0, "profile": "high"}, {"slices": 4},
           {"codec": "libx265"}, {"codec": "libx265", "container": "mp4"}]


def _all_packets(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = (stream.codec_context.name, stream.codec_context.extradata)
        return codec, [p for p in container.demux(stream) if p.size]


@pytest.mark.parametrize("options", STREAMS)
def test_the_slices_of_a_whole_stream_pass_and_report_nothing(h264, options):
    (name, extradata), packets = _all_packets(h264(4, **options))
    check = SliceCheck(name, extradata)
    assert [check(bytes(p)) for p in packets] == [None] * len(packets)
    assert check.enabled and check.pps  # it judged: the stream's parameter sets were read


@pytest.mark.parametrize("options", [o for o in STREAMS if "codec" not in o])
def test_a_lost_reference_frame_is_reported_once_and_an_idr_starts_afresh(h264, options):
    (name, extradata), packets = _all_packets(h264(4, **options))
    check = SliceCheck(name, extradata)
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
    assert SliceCheck("hevc", None)(b"\x00\x00\x01\x26\x01\xaf") is None
    check = SliceCheck("h264", b"\x00\x00\x00\x01\x67\x64")  # an SPS cut short
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


# --- slice headers of noise -----------------------------------------------------------------
#
# Noise passes the NAL check about 1 time in 13. Its slice header must then name a slice
# type that exists, a parameter set the stream sent and, in H.264, a plausible frame_num.


@pytest.fixture
def after_idr(h264):
    """A SliceCheck that has read a real stream's IDR and first P-frame, and the stream's
    log2 MaxFrameNum and last frame_num."""
    (name, extradata), packets = _all_packets(h264(4))
    check = SliceCheck(name, extradata)
    for p in packets[:2]:
        assert check(bytes(p)) is None
    return check, check.sps[0][1], check.prev


@pytest.mark.parametrize(("case", "why"), [
    ("unknown pps", "picture parameter set 13, which the stream never sent"),
    ("slice type", "slice type 12 does not exist"),
    ("idr of type p", "IDR slice that is not an intra reference"),
    ("idr not reference", "IDR slice that is not an intra reference"),
    ("idr numbered", "IDR picture numbered 3"),
    ("data partition", "data partition"),
    ("slices disagree", "the slices of one picture disagree"),
    ("pps of unknown sps", "sequence parameter set 5, which the stream never sent"),
])
def test_noise_that_passes_the_nal_check_is_refused_by_its_slice_header(after_idr, case, why):
    check, log2, prev = after_idr
    following = (prev + 1) % (1 << log2)
    data = {
        "unknown pps": annexb(h264_slice(0x41, 0, 13, following, log2)),
        "slice type": annexb(h264_slice(0x41, 12, 0, following, log2)),
        "idr of type p": annexb(h264_slice(0x65, 0, 0, 0, log2)),
        "idr not reference": annexb(h264_slice(0x05, 7, 0, 0, log2)),
        "idr numbered": annexb(h264_slice(0x65, 7, 0, 3, log2)),
        "data partition": annexb(b"\x42" + random.Random(1).randbytes(30)),
        "slices disagree": annexb(h264_slice(0x41, 0, 0, following, log2),
                                  h264_slice(0x41, 0, 0, following + 1, log2, first_mb=40)),
        "pps of unknown sps": annexb(b"\x68" + rbsp_bytes(ue_bits(1) + ue_bits(5)),
                                     h264_slice(0x41, 0, 1, following, log2)),
    }[case]
    assert NalCheck("h264", None)(data) is None  # what the NAL check alone let through
    with pytest.raises(InvalidSlice, match=why):
        check(data)
    # and it changed nothing: the stream's next frame is judged as before
    assert check(annexb(h264_slice(0x41, 0, 0, following, log2))) is None


def test_a_refused_packet_leaves_its_parameter_sets_behind(after_idr):
    check, log2, prev = after_idr
    following = (prev + 1) % (1 << log2)
    new_pps = b"\x68" + rbsp_bytes(ue_bits(1) + ue_bits(0))  # PPS 1 of SPS 0
    with pytest.raises(InvalidSlice):
        check(annexb(new_pps, h264_slice(0x41, 12, 1, following, log2)))
    with pytest.raises(InvalidSlice, match="parameter set 1,"):
        check(annexb(h264_slice(0x41, 0, 1, following, log2)))
    # a camera that sends a new PPS with a picture that uses it is followed
    assert check(annexb(new_pps, h264_slice(0x41, 0, 1, following, log2))) is None
    assert check(annexb(h264_slice(0x41, 0, 1, (following + 1) % (1 << log2), log2))) is None


def test_random_payloads_after_real_parameter_sets_nearly_never_pass(after_idr):
    """Of noise the NAL check passes (about 1 in 13), the slice headers pass about 1 in 80:
    under 1 in 1,000 in all (0.09 % of 100,000 when measured)."""
    check, _, _ = after_idr
    nal, rng, passed = NalCheck("h264", None), random.Random(11), 0
    state = check.sps, check.pps, check.prev
    for _ in range(20_000):
        data = b"\x00\x00\x00\x01" + rng.randbytes(rng.randrange(20, 1500))
        if nal(data) is not None:
            continue
        check.sps, check.pps, check.prev = state  # each one just after the same P-frame
        with contextlib.suppress(InvalidSlice):
            passed += check(data) is None
    assert passed < 20_000 * 0.002


def test_hevc_slices_must_name_a_parameter_set_the_stream_sent(h264):
    (name, extradata), packets = _all_packets(h264(4, codec="libx265"))
    check = SliceCheck(name, extradata)
    for p in packets[:2]:
        assert check(bytes(p)) is None
    assert list(check.pps) == [0]
    trail_r = b"\x02\x01"  # TRAIL_R, temporal id 1
    named_9 = trail_r + rbsp_bytes("1" + ue_bits(9)) + random.Random(3).randbytes(30)
    assert NalCheck("hevc", None)(annexb(named_9)) is None
    with pytest.raises(InvalidSlice, match="parameter set 9"):
        check(annexb(named_9))
    named_0 = trail_r + rbsp_bytes("1" + ue_bits(0)) + random.Random(3).randbytes(30)
    assert check(annexb(named_0)) is None


def test_parameter_sets_out_of_order_in_extradata_switch_the_check_off():
    pps_of_sps_5 = b"\x68" + rbsp_bytes(ue_bits(0) + ue_bits(5))
    sps = bytes.fromhex("6742c01e") + rbsp_bytes(ue_bits(0) + ue_bits(0) + ue_bits(0) + ue_bits(0)
                                                     + ue_bits(1) + "0")
    check = SliceCheck("h264", annexb(sps, pps_of_sps_5))
    assert not check.enabled
    assert check(annexb(h264_slice(0x41, 12, 13, 0, 4))) is None


def test_hvcc_counts_that_run_past_the_end_are_read_no_further():
    # 22 bytes of fields, 1 array claiming 65,535 units, one unit of 2 bytes, then nothing
    extradata = bytes([1]) + bytes(21) + bytes([1, 0x22, 0xFF, 0xFF, 0, 2, 0x44, 0x01])
    check = SliceCheck("hevc", extradata)
    assert not check.enabled  # the one unit is a PPS cut short: nothing is judged
    assert check(annexb(b"\x02\x01" + rbsp_bytes("1" + ue_bits(9)))) is None
