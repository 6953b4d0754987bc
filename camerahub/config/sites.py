"""Sites (headquarters and outside facilities) and how their cameras are discovered."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import DisplayName, Id, Strict


class Discovery(Strict):
    """How cameras at a site are found: multicast on a named interface, unicast, or manual."""

    mode: Literal["multicast", "unicast", "manual"] = "unicast"
    interface: str | None = Field(default=None, description="Interface for multicast probes")
    targets: list[str] = Field(
        default_factory=list,
        description="Addresses, ranges (a.b.c.d-a.b.c.e) or CIDR blocks for unicast probes",
    )
    interval_s: int = Field(default=300, ge=10, le=86400, title="Discovery interval (s)")

    @model_validator(mode="after")
    def _multicast_needs_interface(self) -> Discovery:
        if self.mode == "multicast" and not self.interface:
            raise ValueError("multicast discovery needs an interface (e.g. interface: eth1)")
        return self


class Site(Strict):
    """A building with cameras: the headquarters or an outside facility."""

    id: Id
    name: DisplayName
    kind: Literal["headquarters", "facility"]
    facility_type: DisplayName | None = None
    discovery: Discovery = Field(default_factory=Discovery)
    retention_days: int | None = Field(default=None, ge=1, le=3650)
