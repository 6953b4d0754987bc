"""How a route declares what it needs; the global dependency in deps.py enforces it.

Every route passes through `deps.authorize`. A route without a declaration is refused to
everyone (deny by default); declare one of:

    @router.get("/cameras/{camera_id}/clip.mp4")
    @requires("export", camera="camera_id", footage="range")
    def clip(access: FootageAccess): ...

    @public                       # no authentication at all (login, /healthz)
    @authenticated                # any signed-in user or key; the route filters itself
    @requires("audit")            # a system action: deploy, health, audit, alerts, ...

and, beside `requires(..., camera=...)`:

    @media_url                    # a URL for <video>/<img>/HLS: takes ?access_token=
    @audited_as("media-token")    # the name its audit entries carry (default: the action)

Every route on a camera and every footage action is audited, one entry per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from camerahub.authz.policy import FOOTAGE_ACTIONS

F = TypeVar("F", bound=Callable)
FootageMode = Literal["none", "range", "optional", "now", "at"]
ATTRIBUTE = "__camerahub_access__"
MEDIA_ATTRIBUTE = "__camerahub_media_url__"
AUDIT_AS_ATTRIBUTE = "__camerahub_audit_as__"


@dataclass(frozen=True)
class AccessRule:
    """What a route requires: an action, optionally on a camera and a footage range."""

    action: str | None = None
    public: bool = False
    camera_param: str | None = None
    footage: FootageMode = "none"
    audit: bool = False
    media: bool = False  # a media URL: a media token of its camera may GET it
    audit_action: str | None = None  # the action its audit entries name, if not `action`

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
    "now" records the current time (live, snapshot), "at" one moment ?at= (a still picture
    of past footage: the range is that moment). Footage actions are always audited.
    """
    if footage is None:
        footage = "now" if action in ("live", "snapshot") else (
            "range" if action in FOOTAGE_ACTIONS else "none")
    audited = bool(audit) or camera is not None or action in FOOTAGE_ACTIONS
    rule = AccessRule(action=action, camera_param=camera, footage=footage, audit=audited)
    return lambda fn: _mark(fn, rule)


def media_url(fn: F) -> F:
    """A media URL of its camera (<video>, <img>, HLS): GET with ?access_token= accepted."""
    setattr(fn, MEDIA_ATTRIBUTE, True)
    return fn


def audited_as(action: str) -> Callable[[F], F]:
    """Name this route's audit entries `action` (e.g. media-token for the token route)."""
    def mark(fn: F) -> F:
        setattr(fn, AUDIT_AS_ATTRIBUTE, action)
        return fn

    return mark


def rule_of(endpoint: Callable | None) -> AccessRule:
    """The rule an endpoint declared (with its media and audit marks), or DENY_ALL."""
    rule = getattr(endpoint, ATTRIBUTE, None)
    if rule is None:
        return DENY_ALL
    media = getattr(endpoint, MEDIA_ATTRIBUTE, False)
    audit_as = getattr(endpoint, AUDIT_AS_ATTRIBUTE, None)
    if media and rule.camera_param is None:
        return DENY_ALL  # a media URL names its camera, or nobody may use it
    if media or audit_as:
        return replace(rule, media=media, audit_action=audit_as)
    return rule
