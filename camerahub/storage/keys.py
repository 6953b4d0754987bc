"""Object keys: `{site}/{camera}/{YYYY}/{MM}/{DD}/{HH}/{start}_{duration_ms}.{ext}`.

`start` is UTC `YYYYMMDDTHHMMSS.mmmZ`. The key alone names camera and time, so the
segment index can be rebuilt from a bucket listing; parsing is strict so a stray object
never becomes a bogus index row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from camerahub.storage.errors import InvalidKey

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}"
EXTENSIONS = frozenset({"ts", "mp4"})
_ID_RE = re.compile(rf"^{ID_PATTERN}$")
_KEY_RE = re.compile(
    rf"^(?P<site>{ID_PATTERN})/(?P<camera>{ID_PATTERN})/"
    r"(?P<dirs>\d{4}/\d{2}/\d{2}/\d{2})/"
    r"(?P<stamp>\d{8}T\d{6})\.(?P<ms>\d{3})Z_(?P<duration>0|[1-9]\d{0,9})\.(?P<ext>[a-z0-9]+)$"
)


@dataclass(frozen=True)
class SegmentKey:
    """The parts of a segment key."""

    site: str
    camera: str
    start_utc: datetime
    duration_ms: int
    ext: str

    @property
    def key(self) -> str:
        """The key string for these parts."""
        return segment_key(self.site, self.camera, self.start_utc, self.duration_ms, self.ext)


def check_id(kind: str, value: str) -> str:
    """Return a site or camera id, or raise InvalidKey if it could not live in a key."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise InvalidKey(f"{kind} id {value!r} must match {ID_PATTERN}")
    return value


def to_utc_ms(moment: datetime) -> datetime:
    """Return an aware datetime in UTC, floored to the millisecond (the key's precision)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidKey(f"start time {moment!r} must be timezone-aware")
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def format_stamp(start_utc: datetime) -> str:
    """Return `YYYYMMDDTHHMMSS.mmmZ` for an aware datetime."""
    start = to_utc_ms(start_utc)
    return f"{start:%Y%m%dT%H%M%S}.{start.microsecond // 1000:03d}Z"


def segment_key(
    site: str, camera: str, start_utc: datetime, duration_ms: int, ext: str = "ts"
) -> str:
    """Return the object key of a segment."""
    check_id("site", site)
    check_id("camera", camera)
    if isinstance(duration_ms, bool) or not isinstance(duration_ms, int) or duration_ms < 0:
        raise InvalidKey(f"duration_ms {duration_ms!r} must be a non-negative integer")
    if ext not in EXTENSIONS:
        raise InvalidKey(f"extension {ext!r} is not one of {sorted(EXTENSIONS)}")
    start = to_utc_ms(start_utc)
    return f"{site}/{camera}/{start:%Y/%m/%d/%H}/{format_stamp(start)}_{duration_ms}.{ext}"


def parse_segment_key(key: str) -> SegmentKey:
    """Parse a segment key strictly; raise InvalidKey naming what is wrong."""
    match = _KEY_RE.match(key) if isinstance(key, str) else None
    if match is None:
        raise InvalidKey(f"{key!r} is not {{site}}/{{camera}}/YYYY/MM/DD/HH/{{start}}_{{ms}}.ext")
    if match["ext"] not in EXTENSIONS:
        raise InvalidKey(f"{key!r}: extension {match['ext']!r} is not a segment extension")
    start = _parse_stamp(key, match["stamp"], match["ms"])
    if f"{start:%Y/%m/%d/%H}" != match["dirs"]:
        raise InvalidKey(f"{key!r}: directories {match['dirs']} disagree with start time")
    return SegmentKey(match["site"], match["camera"], start, int(match["duration"]), match["ext"])


def _parse_stamp(key: str, stamp: str, millis: str) -> datetime:
    """Parse the start stamp of a key, rejecting impossible dates."""
    try:
        start = datetime(
            int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]),
            int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15]),
            int(millis) * 1000, tzinfo=UTC,
        )
    except ValueError as exc:
        raise InvalidKey(f"{key!r}: start {stamp!r} is not a valid UTC time") from exc
    return start
