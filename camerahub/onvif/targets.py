"""Unicast probe targets: single addresses, ranges (a.b.c.d-a.b.c.e) and CIDR blocks."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .errors import TargetError

# A directed probe sends one datagram per address: cap it so a typo such as a /8 block
# cannot turn discovery into a 16-million-packet scan of someone else's network.
MAX_TARGETS = 4096


def parse_targets(specs: Iterable[str], limit: int = MAX_TARGETS) -> list[str]:
    """Expand target specs to distinct IPv4 addresses in order; TargetError if invalid."""
    seen: dict[str, None] = {}
    for spec in specs:
        for addr in _expand(spec.strip(), limit):
            seen[str(addr)] = None
            if len(seen) > limit:
                raise TargetError(f"targets cover more than {limit} addresses")
    return list(seen)


def split_targets(text: str) -> list[str]:
    """'a,b c' -> ['a', 'b', 'c']: the --targets option's comma or space separated list."""
    return [part for part in text.replace(",", " ").split() if part]


def _expand(spec: str, limit: int) -> list[ipaddress.IPv4Address]:
    """One spec to its addresses."""
    if not spec:
        raise TargetError("empty target")
    if "/" in spec:
        return _cidr(spec, limit)
    if "-" in spec:
        return _range(spec, limit)
    return [_address(spec, spec)]


def _address(text: str, spec: str) -> ipaddress.IPv4Address:
    """A single unicast IPv4 address, or TargetError naming the spec."""
    try:
        addr = ipaddress.IPv4Address(text.strip())
    except ValueError:
        raise TargetError(f"{spec!r}: {text.strip()!r} is not an IPv4 address") from None
    if addr.is_multicast or addr.is_unspecified or addr == ipaddress.IPv4Address(2**32 - 1):
        raise TargetError(f"{spec!r}: {addr} is not a unicast address")
    return addr


def _range(spec: str, limit: int) -> list[ipaddress.IPv4Address]:
    """'a.b.c.d-a.b.c.e' or the short form 'a.b.c.d-e' (same first three octets)."""
    first_text, _, last_text = spec.partition("-")
    first = _address(first_text, spec)
    if last_text.strip().isdigit():
        last_text = first_text.rsplit(".", 1)[0] + "." + last_text.strip()
    last = _address(last_text, spec)
    if last < first:
        raise TargetError(f"{spec!r}: range ends before it starts")
    count = int(last) - int(first) + 1
    if count > limit:
        raise TargetError(f"{spec!r}: {count} addresses; the limit is {limit}")
    return [ipaddress.IPv4Address(int(first) + i) for i in range(count)]


def _cidr(spec: str, limit: int) -> list[ipaddress.IPv4Address]:
    """The host addresses of a CIDR block (without network and broadcast addresses)."""
    try:
        net = ipaddress.IPv4Network(spec, strict=False)
    except ValueError as exc:
        raise TargetError(f"{spec!r}: not a CIDR block ({exc})") from None
    if net.num_addresses > limit + 2:
        raise TargetError(f"{spec!r}: {net.num_addresses} addresses; the limit is {limit}")
    if net.is_multicast or net.network_address.is_unspecified:
        raise TargetError(f"{spec!r}: not a unicast network")
    return list(net.hosts())
