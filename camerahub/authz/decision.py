"""The one access decision every footage route relies on: policy, then grants, then deny."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from camerahub.db import models as m
from camerahub.errors import ErrorKind

from .accounts import Principal, PrincipalKind
from .apikeys import scope_allows
from .authorizer import Authorizer
from .errors import AccessError, NotVisible, PermissionDenied, ReasonRequired
from .grants import covering_grant, granted_cameras
from .policy import ROOT, SCOPED_ROLES, VIEW

MAX_REASON = 2000
# What each refusal is, as the exception a caller raises for it.
REFUSALS: dict[str, type[AccessError]] = {"not-visible": NotVisible,
                                          "not-permitted": PermissionDenied,
                                          "reason-required": ReasonRequired}


@dataclass(frozen=True)
class FootageRequest:
    """What a caller asks for: an action on one camera over a footage range."""

    action: str
    camera_id: str
    footage_start: datetime | None = None
    footage_end: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Decision:
    """The outcome, with what the audit trail needs; a refusal's basis says which one."""

    allowed: bool
    basis: str  # policy | grant, or a refusal: not-visible | not-permitted | reason-required
    message: str = ""
    grant: m.Grant | None = None

    @property
    def incident_id(self) -> int | None:
        """The incident whose grant allowed this, if any."""
        return self.grant.incident_id if self.grant else None

    @property
    def kind(self) -> ErrorKind | None:
        """What kind of refusal this is (not_found, forbidden, invalid); None when allowed."""
        return None if self.allowed else REFUSALS[self.basis].kind

    def refusal(self) -> AccessError | None:
        """The exception to raise for this decision, or None when it allows."""
        return None if self.allowed else REFUSALS[self.basis](self.message)


NOT_VISIBLE = Decision(False, "not-visible", "camera not found")
BY_POLICY = Decision(True, "policy")


def camera_visible(authz: Authorizer, session: Session, who: Principal, camera_id: str) -> bool:
    """Does the camera exist and may the caller know it does (policy or a live grant)?

    Only people see cameras: an API key never does, a media token only its own camera.
    """
    person = who.person
    if camera_id not in authz.cameras or person is None:
        return False
    if who.kind == PrincipalKind.MEDIA and camera_id != who.camera:
        return False
    return authz.visible(person, camera_id) or camera_id in granted_cameras(session, person)


def reason_stated(reason: str | None, reason_min: int) -> bool:
    """Is the stated reason long enough (access.reason_min_length; 0 turns the rule off)?"""
    return len((reason or "").strip()) >= reason_min


def decide(authz: Authorizer, session: Session, who: Principal, req: FootageRequest,
           reason_min: int, now: datetime | None = None) -> Decision:
    """Allow by policy (managers must state a reason) or by a covering grant; else refuse."""
    if not camera_visible(authz, session, who, req.camera_id):
        return NOT_VISIBLE
    person = who.person or ""  # camera_visible refused every principal without a person
    by_policy = authz.allowed(person, req.camera_id, req.action)
    if by_policy and (who.role not in SCOPED_ROLES or reason_stated(req.reason, reason_min)):
        return BY_POLICY
    grant = covering_grant(session, person, req.action, req.camera_id, req.footage_start,
                           req.footage_end, now)
    if grant is not None:
        return Decision(True, "grant", grant=grant)
    if by_policy:
        return Decision(False, "reason-required", _reason_message(reason_min))
    return Decision(False, "not-permitted", f"{req.action} is not permitted on this camera")


def decide_camera(authz: Authorizer, session: Session, who: Principal, camera_id: str,
                  action: str) -> Decision:
    """A non-footage action on a camera: VIEW needs visibility only, others the policy."""
    if not camera_visible(authz, session, who, camera_id):
        return NOT_VISIBLE
    if action == VIEW or authz.allowed(who.person or "", camera_id, action):
        return BY_POLICY
    return Decision(False, "not-permitted", f"{action} is not permitted")


def _reason_message(reason_min: int) -> str:
    return (f"a stated reason of at least {reason_min} characters is required "
            "(query parameter `reason` or header X-Camerahub-Reason)")


def system_allowed(authz: Authorizer, who: Principal, action: str) -> bool:
    """May the caller take a non-footage action (deploy, health, audit, alerts...)?"""
    if who.kind == PrincipalKind.APIKEY:
        return scope_allows(who.scope or "", action)
    if who.kind != PrincipalKind.USER:
        return False  # a media token takes no action beyond its camera's media URLs
    return authz.allowed(who.id, ROOT, action)
