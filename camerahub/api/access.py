"""How a route declares what it needs; the global dependency in deps.py enforces it.

Every route passes through `deps.authorize`. A route without a declaration is refused to
everyone (deny by default); declare one of:

    @router.get("/cameras/{camera_id}/clip.mp4")
    @requires("export", camera="camera_id", footage="range")
    def clip(access: FootageAccess): ...

    @public                       # no authentication at all (login, /healthz)
    @authenticated                # any signed-in user or key; the route filters itself
    @requires("audit")            # a system action: deploy, health, audit, alerts, ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from camerahub.authz.policy import FOOTAGE_ACTIONS

F = TypeVar("F", bound=Callable)
FootageMode = Literal["none", "range", "optional", "now"]
ATTRIBUTE = "__camerahub_access__"


@dataclass(frozen=True)
class AccessRule:
    """What a route requires: an action, optionally on a camera and a footage range."""

    action: str | None = None
    public: bool = False
    camera_param: str | None = None
    footage: FootageMode = "none"
    audit: bool = False

    @property
    def footage_action(self) -> bool:
        """Is this an action on footage (always decided per request and audited)?"""
        return self.action in FOOTAGE_ACTIONS


DENY_ALL = AccessRule(action="__undeclared__")


def _mark(fn: F, rule: AccessRule) -> F:
    setattr(fn, ATTRIBUTE, rule)
    return fn


def public(fn: F) -> F:
    """Opt out of authentication (login, health probe)."""
    return _mark(fn, AccessRule(public=True))


def authenticated(fn: F) -> F:
    """Any authenticated caller; the route must filter what it returns by permission."""
    return _mark(fn, AccessRule())


def requires(action: str, *, camera: str | None = None, footage: FootageMode | None = None,
             audit: bool | None = None) -> Callable[[F], F]:
    """Require action (on the camera named by path parameter `camera`, if given).

    footage: "range" needs ?start=&end= (ISO 8601), "optional" takes them if present,
    "now" records the current time (live, snapshot). Footage actions are always audited.
    """
    if footage is None:
        footage = "now" if action in ("live", "snapshot") else (
            "range" if action in FOOTAGE_ACTIONS else "none")
    rule = AccessRule(action=action, camera_param=camera, footage=footage,
                      audit=bool(audit) or action in FOOTAGE_ACTIONS)
    return lambda fn: _mark(fn, rule)


def rule_of(endpoint: Callable | None) -> AccessRule:
    """The rule an endpoint declared, or DENY_ALL."""
    return getattr(endpoint, ATTRIBUTE, None) or DENY_ALL
