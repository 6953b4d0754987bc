"""Reading what a device answered: zeep objects in, our types out, garbage refused.

zeep (strict=False, which real cameras need) turns a value of the wrong type into None and
otherwise hands over whatever the device sent. The readers here treat that as hostile input:

- a value that fits no field of ours (a 40-digit width, a 10 kB serial, a MAC that is no
  MAC, a media URL that is no URL) is read as "not said" (None), like a value zeep could not
  parse: one absurd field does not throw away the rest of an answer;
- an answer without the one thing its operation is for (no profile, no URI, no clock, no
  identity) or of the wrong shape raises BadAnswer; the client records the capability as
  absent (a Get*) or refuses the device's answer (the read-back before a Set*).

Every reader takes the reply of one operation and is called by the client inside that
operation's error handling, so a reader never needs try/except of its own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from .models import DeviceInfo, EncoderOptions, EncoderSettings, MediaProfile

NAME_SCOPE = "onvif://www.onvif.org/name/"
MAX_TOKEN = 64  # tt:ReferenceToken is at most 64 characters
MAX_NAME = 128  # identity fields land in 128-character columns of camera_state
MAX_URI = 4096  # generous: cameras.uris refuses stream URIs past 2048 with a reason
MAX_TEXT = 1024
MAX_PROFILES = 32  # each costs a GetStreamUri; real cameras have a handful
INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # xs:int, what ONVIF uses for every number we read
_MAC = re.compile(r"^[0-9a-f]{2}([:-][0-9a-f]{2}){5}$")


class BadAnswer(ValueError):
    """An answer without what its operation promises; the message says what is missing."""


@dataclass(frozen=True)
class Clock:
    """What GetSystemDateAndTime said: UTC time (None if unusable), mode and POSIX zone."""

    utc: datetime | None
    mode: str | None
    timezone: str | None


# -- scalars ----------------------------------------------------------------------------------


def text(value: Any, limit: int = MAX_TEXT) -> str | None:
    """Stripped text of a scalar; None when empty or longer than `limit`."""
    if value is None or isinstance(value, bytes | bytearray):
        return None
    found = str(value).strip()
    return found if found and len(found) <= limit else None


def integer(value: Any) -> int | None:
    """An xs:int; None for anything else (text, bool, a fraction, a number out of range)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if INT_MIN <= value <= INT_MAX else None


def number(value: Any) -> float | None:
    """A finite number within xs:int's range; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    found = float(value)
    return found if math.isfinite(found) and INT_MIN <= found <= INT_MAX else None


def flag(value: Any) -> bool | None:
    """An xs:boolean; None for anything else."""
    return value if isinstance(value, bool) else None


def items(value: Any) -> list[Any]:
    """A repeated element as a list: None is empty, anything but a list is BadAnswer."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise BadAnswer(f"expected a list, got {type(value).__name__}")
    return list(value)


def int_range(value: Any) -> tuple[int, int] | None:
    """(Min, Max) of a tt:IntRange, or None when either is missing or Min > Max."""
    return _bounds(getattr(value, "Min", None), getattr(value, "Max", None))


def _bounds(low: Any, high: Any) -> tuple[int, int] | None:
    """Two xs:int bounds in order, or None."""
    low, high = integer(low), integer(high)
    return (low, high) if low is not None and high is not None and low <= high else None


# -- device service -----------------------------------------------------------------------------


def clock(reply: Any) -> Clock:
    """GetSystemDateAndTime: BadAnswer when it says nothing at all."""
    result = Clock(_utc(getattr(reply, "UTCDateTime", None)),
                   text(getattr(reply, "DateTimeType", None), MAX_TOKEN),
                   text(getattr(getattr(reply, "TimeZone", None), "TZ", None), MAX_TOKEN))
    if result == Clock(None, None, None):
        raise BadAnswer("no date, time or time zone")
    return result


def _utc(value: Any) -> datetime | None:
    """A tt:DateTime as an aware UTC datetime; None when incomplete or impossible."""
    date, time = getattr(value, "Date", None), getattr(value, "Time", None)
    parts = [integer(getattr(date, f, None)) for f in ("Year", "Month", "Day")]
    parts += [integer(getattr(time, f, None)) for f in ("Hour", "Minute", "Second")]
    if any(p is None for p in parts):
        return None
    try:
        return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]
    except ValueError:  # month 13, year 0, second 61...
        return None


def device_info(reply: Any) -> DeviceInfo:
    """GetDeviceInformation: BadAnswer when no field is usable."""
    info = DeviceInfo(
        manufacturer=text(getattr(reply, "Manufacturer", None), MAX_NAME),
        model=text(getattr(reply, "Model", None), MAX_NAME),
        firmware=text(getattr(reply, "FirmwareVersion", None), MAX_NAME),
        serial=text(getattr(reply, "SerialNumber", None), MAX_NAME),
        hardware_id=text(getattr(reply, "HardwareId", None), MAX_NAME))
    if info == DeviceInfo():
        raise BadAnswer("no manufacturer, model, firmware or serial number")
    return info


def mac(reply: Any) -> str | None:
    """MAC of the first enabled interface that reports a well-formed one; BadAnswer when the
    device lists no interface at all."""
    interfaces = items(reply)
    if not interfaces:
        raise BadAnswer("no network interface")
    for iface in interfaces:
        found = text(getattr(getattr(iface, "Info", None), "HwAddress", None), 32)
        if flag(getattr(iface, "Enabled", True)) is not False and found \
                and _MAC.match(found.lower()):
            return found.lower()
    return None


def media_url(reply: Any) -> str | None:
    """The media service URL from GetCapabilities (None: use the device URL); BadAnswer
    when the answer holds no capabilities."""
    if reply is None:
        raise BadAnswer("no capabilities")
    found = text(getattr(getattr(reply, "Media", None), "XAddr", None), MAX_URI)
    if found is None:
        return None
    parts = urlsplit(found)
    if parts.scheme.lower() not in ("http", "https") or not parts.path.startswith("/"):
        return None  # not a URL we could take a path from: the device URL serves media too
    return found


def ntp(reply: Any) -> tuple[tuple[str, ...], bool | None]:
    """GetNTP: manually set servers (names or addresses) and whether DHCP provides them."""
    if reply is None:
        raise BadAnswer("no NTP information")
    hosts = []
    for host in items(getattr(reply, "NTPManual", None)):
        value = (text(getattr(host, "DNSname", None), 255)
                 or text(getattr(host, "IPv4Address", None), 64)
                 or text(getattr(host, "IPv6Address", None), 64))
        if value:
            hosts.append(value)
    return tuple(hosts), flag(getattr(reply, "FromDHCP", None))


def hostname(reply: Any) -> str | None:
    """GetHostname: the name, None when the device has none set."""
    if reply is None:
        raise BadAnswer("no hostname information")
    return text(getattr(reply, "Name", None), 255)


def scopes(reply: Any) -> list[tuple[str | None, str]]:
    """GetScopes: (ScopeDef, ScopeItem) pairs; BadAnswer when there is none."""
    found = [(text(getattr(s, "ScopeDef", None), MAX_TOKEN),
              text(getattr(s, "ScopeItem", None), MAX_URI)) for s in items(reply)]
    usable = [(kind, item) for kind, item in found if item]
    if not usable:
        raise BadAnswer("no scope")
    return usable


def scope_name(found: Iterable[tuple[str | None, str]]) -> str | None:
    """The device name from its name scope (percent-decoded), or None."""
    for _kind, item in found:
        if item.startswith(NAME_SCOPE):
            return text(unquote(item.removeprefix(NAME_SCOPE)), MAX_NAME)
    return None


# -- media service ------------------------------------------------------------------------------


def profiles(reply: Any) -> list[MediaProfile]:
    """GetProfiles: each profile with a token (the first MAX_PROFILES, no duplicates) and
    its encoder's settings, without stream URIs; BadAnswer when there is none."""
    found: dict[str, MediaProfile] = {}
    for raw in items(reply):
        token = text(getattr(raw, "token", None), MAX_TOKEN)
        if token is None or token in found:
            continue
        enc = getattr(raw, "VideoEncoderConfiguration", None)
        res, rate = getattr(enc, "Resolution", None), getattr(enc, "RateControl", None)
        found[token] = MediaProfile(
            token=token, name=text(getattr(raw, "Name", None), MAX_NAME),
            width=integer(getattr(res, "Width", None)),
            height=integer(getattr(res, "Height", None)),
            fps=number(getattr(rate, "FrameRateLimit", None)),
            codec=text(getattr(enc, "Encoding", None), MAX_TOKEN))
        if len(found) == MAX_PROFILES:
            break
    if not found:
        raise BadAnswer("no profile")
    return list(found.values())


def media_uri(reply: Any) -> str:
    """GetStreamUri or GetSnapshotUri: the URI, BadAnswer when there is none."""
    found = text(getattr(reply, "Uri", None), MAX_URI)
    if found is None:
        raise BadAnswer("no Uri")
    return found


def encoders(reply: Any) -> tuple[EncoderSettings, ...]:
    """Each profile's video encoder configuration, from GetProfiles."""
    out = []
    for raw in items(reply)[:MAX_PROFILES]:
        enc = getattr(raw, "VideoEncoderConfiguration", None)
        profile = text(getattr(raw, "token", None), MAX_TOKEN)
        if enc is None or not profile:
            continue
        res, rate = getattr(enc, "Resolution", None), getattr(enc, "RateControl", None)
        h264 = getattr(enc, "H264", None)
        out.append(EncoderSettings(
            profile=profile, config_token=text(getattr(enc, "token", None), MAX_TOKEN) or "",
            encoding=text(getattr(enc, "Encoding", None), MAX_TOKEN),
            width=integer(getattr(res, "Width", None)),
            height=integer(getattr(res, "Height", None)),
            fps=integer(getattr(rate, "FrameRateLimit", None)),
            bitrate_kbps=integer(getattr(rate, "BitrateLimit", None)),
            gop=integer(getattr(h264, "GovLength", None)),
            h264_profile=text(getattr(h264, "H264Profile", None), MAX_TOKEN)))
    if not out:
        raise BadAnswer("no profile with a video encoder")
    return tuple(out)


def encoder_options(reply: Any) -> EncoderOptions:
    """H.264 options of one encoder (empty when the device says nothing of H.264)."""
    if reply is None:
        raise BadAnswer("no options")
    h264 = getattr(reply, "H264", None)
    if h264 is None:
        return EncoderOptions()
    ext = getattr(getattr(reply, "Extension", None), "H264", None)
    sizes = ((integer(getattr(r, "Width", None)), integer(getattr(r, "Height", None)))
             for r in items(getattr(h264, "ResolutionsAvailable", None)))
    return EncoderOptions(
        resolutions=tuple((w, h) for w, h in sizes if w is not None and h is not None),
        fps_range=int_range(getattr(h264, "FrameRateRange", None)),
        gop_range=int_range(getattr(h264, "GovLengthRange", None)),
        bitrate_range=int_range(getattr(ext, "BitrateRange", None))
        or _raw_bitrate_range(getattr(reply, "Extension", None)),
        h264_profiles=tuple(p for p in (text(v, MAX_TOKEN) for v in items(
            getattr(h264, "H264ProfilesSupported", None))) if p))


def _raw_bitrate_range(extension: Any) -> tuple[int, int] | None:
    """BitrateRange from Extension/H264 left as raw XML: the schema's leading xs:any
    (##other) makes zeep swallow tt:H264 unparsed."""
    for element in items(getattr(extension, "_value_1", None)):
        tag = getattr(element, "tag", None)
        if not isinstance(tag, str) or not tag.endswith("}H264"):
            continue
        low = text(element.findtext("{*}BitrateRange/{*}Min"), 10)
        high = text(element.findtext("{*}BitrateRange/{*}Max"), 10)
        if low and high and low.isdigit() and high.isdigit():
            return _bounds(int(low), int(high))
    return None


def encoder_configuration(reply: Any) -> Any:
    """GetVideoEncoderConfiguration, to be changed and sent back: BadAnswer unless it has
    the resolution and rate control we change."""
    if getattr(reply, "Resolution", None) is None or getattr(reply, "RateControl", None) is None:
        raise BadAnswer("encoder configuration lacks resolution or rate control")
    return reply
