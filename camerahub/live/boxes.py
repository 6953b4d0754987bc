"""Cut a fragmented MP4 byte stream into its init segment and fragments.

The muxer's output is split on top-level ISO BMFF boxes rather than on write() calls, so
the result does not depend on how FFmpeg happens to buffer its writes: `ftyp`+`moov` are
the init segment and every `moof`+`mdat` pair is one fragment.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

HEADER = struct.Struct(">I4s")


class BoxError(ValueError):
    """The byte stream is not a well-formed sequence of MP4 boxes."""


@dataclass(frozen=True)
class Fragment:
    """One moof+mdat; decode_time is its tfdt, at tfdt_at (64-bit) or None without one.

    keyframe: it opens with a keyframe (a viewer may start or resume here); received: the
    wall-clock time (time.time()) its packet came out of the demuxer, for latency figures.
    """

    data: bytes
    decode_time: int
    tfdt_at: int | None
    keyframe: bool = True
    received: float = 0.0
    # rebased bytes by origin: the viewers who joined at the same keyframe share one copy
    _rebased: dict[int, bytes] = field(default_factory=dict, compare=False, repr=False)

    def rebased(self, origin: int) -> bytes:
        """The fragment with its tfdt moved back by origin (a viewer's timeline starts at 0)."""
        if self.tfdt_at is None or origin == 0:
            return self.data
        out = self._rebased.get(origin)
        if out is None:
            value = struct.pack(">Q", max(0, self.decode_time - origin))
            out = self.data[:self.tfdt_at] + value + self.data[self.tfdt_at + 8:]
            if len(self._rebased) < 8:
                self._rebased[origin] = out
        return out


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, box end) of each box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = HEADER.unpack_from(data, pos)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        if size < header or pos + size > end:
            raise BoxError(f"bad box {kind!r} of size {size} at {pos}")
        yield kind, pos + header, pos + size
        pos += size


def _find(data: bytes, start: int, end: int, path: tuple[bytes, ...]) -> int | None:
    """Payload offset of the box at path under data[start:end], or None."""
    for kind, payload, box_end in _boxes(data, start, end):
        if kind == path[0]:
            return payload if len(path) == 1 else _find(data, payload, box_end, path[1:])
    return None


def fragment_of(data: bytes) -> Fragment:
    """A Fragment of moof+mdat bytes, with the first track's base decode time."""
    tfdt = _find(data, 0, len(data), (b"moof", b"traf", b"tfdt"))
    if tfdt is None:
        return Fragment(data, 0, None)
    if data[tfdt] == 1:  # version 1: 64-bit time, patchable in place
        return Fragment(data, struct.unpack_from(">Q", data, tfdt + 4)[0], tfdt + 4)
    # version 0 (32-bit): FFmpeg writes version 1, so leave such fragments untouched
    return Fragment(data, struct.unpack_from(">I", data, tfdt + 4)[0], None)


class BoxSplitter:
    """Feed muxer output in; get the init segment and whole fragments out."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending = bytearray()  # boxes of the unit being assembled
        self.init: bytes | None = None

    def feed(self, data: bytes) -> list[bytes | Fragment]:
        """Complete units in order: the init segment (bytes) once, then Fragments."""
        self._buffer += data
        out: list[bytes | Fragment] = []
        for kind, box in self._complete_boxes():
            self._pending += box
            if kind == b"moov":
                self.init = bytes(self._pending)
                out.append(self.init)
                self._pending.clear()
            elif kind == b"mdat" and self.init is not None:
                out.append(fragment_of(bytes(self._pending)))
                self._pending.clear()
        return out

    def _complete_boxes(self):
        """Pop whole top-level boxes off the buffer."""
        while len(self._buffer) >= 8:
            size, kind = HEADER.unpack_from(self._buffer, 0)
            if size == 1 and len(self._buffer) >= 16:
                size = struct.unpack_from(">Q", self._buffer, 8)[0]
            elif size == 1:
                return
            if size < 8:
                raise BoxError(f"bad top-level box {kind!r} of size {size}")
            if len(self._buffer) < size:
                return
            box = bytes(self._buffer[:size])
            del self._buffer[:size]
            yield kind, box
