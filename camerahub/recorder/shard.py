"""Stable sharding of cameras across recorder processes (`--shard I/N`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_SHARD = re.compile(r"^(\d{1,4})/(\d{1,4})$")


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' with 0 <= I < N (I is the StatefulSet pod ordinal) -> (I, N)."""
    match = _SHARD.match(text.strip())
    if not match:
        raise ValueError(f"shard must look like I/N (e.g. 0/3), not {text!r}")
    index, count = int(match[1]), int(match[2])
    if count < 1 or index >= count:
        raise ValueError(f"shard {text!r}: need 0 <= I < N")
    return index, count


def shard_of(camera_id: str, count: int) -> int:
    """The shard a camera belongs to: a hash that never changes between runs or hosts."""
    digest = hashlib.sha256(camera_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def in_shard(camera_ids: Iterable[str], index: int, count: int) -> list[str]:
    """The cameras shard `index` of `count` records."""
    return [c for c in camera_ids if shard_of(c, count) == index]
