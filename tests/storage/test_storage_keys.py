"""Segment keys: the exact contract format, a round-trip property, strict rejection."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from camerahub.storage import InvalidKey, SegmentKey, parse_segment_key, segment_key

ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"


def test_contract_example():
    start = datetime(2026, 11, 26, 3, 15, tzinfo=UTC)
    key = segment_key("hq", "hq-1f-koseki-01", start, 10_000, "ts")
    assert key == "hq/hq-1f-koseki-01/2026/11/26/03/20261126T031500.000Z_10000.ts"
    assert parse_segment_key(key) == SegmentKey("hq", "hq-1f-koseki-01", start, 10_000, "ts")


def test_non_utc_start_is_converted_and_sub_millisecond_floored():
    jst = timezone(timedelta(hours=9))
    start = datetime(2026, 11, 26, 12, 15, 0, 123_999, tzinfo=jst)
    key = segment_key("hq", "cam", start, 9_933)
    assert key == "hq/cam/2026/11/26/03/20261126T031500.123Z_9933.ts"


def random_key_parts(rng: random.Random) -> SegmentKey:
    """Arbitrary valid parts: ids of 1-64 chars, any millisecond 1970-2199, any duration."""
    def ident() -> str:
        first = rng.choice(ID_CHARS[:62])
        return first + "".join(rng.choice(ID_CHARS) for _ in range(rng.randrange(64)))

    epoch_ms = rng.randrange(0, 7_258_118_400_000)
    start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=epoch_ms)
    return SegmentKey(ident(), ident(), start, rng.randrange(0, 10**10),
                      rng.choice(["ts", "mp4"]))


def test_parse_of_format_is_identity_property():
    rng = random.Random(20261126)  # fixed seed: reproducible, still 5000 varied cases
    for _ in range(5000):
        parts = random_key_parts(rng)
        key = segment_key(parts.site, parts.camera, parts.start_utc, parts.duration_ms,
                          parts.ext)
        assert parse_segment_key(key) == parts
        assert parts.key == key


@pytest.mark.parametrize(
    "key",
    [
        "hq/cam/2026/11/26/03/20261126T031500.000Z_10000.ts/",
        "/hq/cam/2026/11/26/03/20261126T031500.000Z_10000.ts",
        "hq/cam/2026/11/26/04/20261126T031500.000Z_10000.ts",  # hour dir disagrees
        "hq/cam/2026/11/25/03/20261126T031500.000Z_10000.ts",  # day dir disagrees
        "hq/cam/2026/13/26/03/20261326T031500.000Z_10000.ts",  # month 13
        "hq/cam/2026/02/30/03/20260230T031500.000Z_10000.ts",  # 30 February
        "hq/cam/2026/11/26/03/20261126T031500Z_10000.ts",  # no milliseconds
        "hq/cam/2026/11/26/03/20261126T031500.000_10000.ts",  # no Z
        "hq/cam/2026/11/26/03/20261126T031500.000Z_010000.ts",  # non-canonical number
        "hq/cam/2026/11/26/03/20261126T031500.000Z_-1.ts",
        "hq/cam/2026/11/26/03/20261126T031500.000Z_10000.mkv",
        "hq/cam/2026/11/26/03/20261126T031500.000Z_10000",
        "hq/../2026/11/26/03/20261126T031500.000Z_10000.ts",
        "hq/c am/2026/11/26/03/20261126T031500.000Z_10000.ts",
        "hq/cam/extra/2026/11/26/03/20261126T031500.000Z_10000.ts",
        "hq/cam/2026/11/26/03/20261126T031500.000Z_10000.ts.json",
        "",
    ],
)
def test_parse_rejects_anything_else(key):
    with pytest.raises(InvalidKey):
        parse_segment_key(key)


@pytest.mark.parametrize(
    ("site", "camera", "start", "duration", "ext"),
    [
        ("hq", "cam", datetime(2026, 11, 26), 10_000, "ts"),  # naive time
        ("h/q", "cam", datetime(2026, 11, 26, tzinfo=UTC), 10_000, "ts"),
        ("hq", "..", datetime(2026, 11, 26, tzinfo=UTC), 10_000, "ts"),
        ("hq", "-cam", datetime(2026, 11, 26, tzinfo=UTC), 10_000, "ts"),
        ("hq", "cam", datetime(2026, 11, 26, tzinfo=UTC), -1, "ts"),
        ("hq", "cam", datetime(2026, 11, 26, tzinfo=UTC), 1.5, "ts"),
        ("hq", "cam", datetime(2026, 11, 26, tzinfo=UTC), 10_000, "exe"),
    ],
)
def test_format_rejects_bad_parts(site, camera, start, duration, ext):
    with pytest.raises(InvalidKey):
        segment_key(site, camera, start, duration, ext)
