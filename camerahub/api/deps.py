"""Dependencies: the global authorization check every route passes, and typed aliases."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from camerahub import audit
from camerahub.authz import accounts
from camerahub.authz.accounts import Principal
from camerahub.authz.authorizer import Authorizer
from camerahub.authz.decision import (
    MAX_REASON,
    Decision,
    FootageRequest,
    decide,
    decide_camera,
    system_allowed,
)
from camerahub.authz.errors import InvalidRequest, NotAuthenticated, PermissionDenied
from camerahub.authz.tokens import verify_token
from camerahub.db.types import utcnow
from camerahub.live import LiveHub
from camerahub.recordings import FootageReader

from .access import AccessRule, rule_of
from .errors import status_of
from .params import REASON_HEADER, parse_time
from .state import AppState

log = logging.getLogger(__name__)


def app_state(request: Request) -> AppState:
    """The AppState of the app serving this request."""
    return request.app.state.camerahub


def live_hub(request: Request) -> LiveHub:
    """The app's live hub (built with the app's services, never here)."""
    return app_state(request).live


def footage_reader(request: Request) -> FootageReader:
    """The app's reader of recorded footage."""
    return app_state(request).footage


def get_session(request: Request) -> Iterator[Session]:
    """A database session for one request (routes commit what they change)."""
    with app_state(request).sessions() as session:
        yield session


def client_of(request: Request) -> str | None:
    """The peer address (no proxy headers are trusted)."""
    return request.client.host if request.client else None


@dataclass(frozen=True)
class FootageGrant:
    """An allowed footage request, as the route should serve it."""

    principal: Principal
    action: str
    camera_id: str
    footage_start: datetime | None
    footage_end: datetime | None
    reason: str | None
    incident_id: int | None
    basis: str


# --- authentication ------------------------------------------------------------------------


def _credentials(request: Request, camera: str | None) -> tuple[str, str] | None:
    """("apikey"|"token"|"media", value) from X-API-Key, Authorization: Bearer, or (on a
    camera route only) an ?access_token= media token; else None."""
    key = request.headers.get("x-api-key")
    if key:
        return "apikey", key.strip()
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        media = request.query_params.get("access_token")
        return ("media", media.strip()) if media and camera is not None else None
    value = value.strip()
    return ("apikey" if value.startswith("chk_") else "token"), value


def authenticate(session: Session, state: AppState, request: Request,
                 camera: str | None = None) -> Principal:
    """The caller, or NotAuthenticated (bad credentials are audited).

    camera: the path's camera id on camera routes, where a media token for it is accepted.
    """
    creds = _credentials(request, camera)
    if creds is None:
        raise NotAuthenticated("not authenticated")
    kind, value = creds
    try:
        if kind == "apikey":
            return accounts.principal_from_key(session, value)
        media_camera = camera if kind == "media" else None
        claims = verify_token(state.settings.secret_key, value, media_camera)
        return accounts.user_from_token(session, claims)
    except NotAuthenticated as exc:
        audit.record_rejected_credentials(session, kind, str(exc), client_of(request))
        session.commit()
        state.metrics.decision("authenticate", "unauthenticated")
        raise NotAuthenticated("not authenticated") from None


# --- footage requests ----------------------------------------------------------------------


def _range(rule: AccessRule, request: Request) -> tuple[datetime | None, datetime | None]:
    if rule.footage == "now":
        return utcnow(), None
    if rule.footage == "none":
        return None, None
    start = parse_time("start", request.query_params.get("start"))
    end = parse_time("end", request.query_params.get("end"))
    if rule.footage == "range" and (start is None or end is None):
        raise InvalidRequest("start and end (ISO 8601) are required")
    if start is not None and end is not None and end <= start:
        raise InvalidRequest("end must be after start")
    return start, end


def _reason(request: Request) -> str | None:
    reason = request.query_params.get("reason") or request.headers.get(REASON_HEADER)
    if reason is not None and request.query_params.get("reason") is None:
        reason = unquote(reason)  # headers are Latin-1; clients percent-encode Japanese
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidRequest(f"reason is longer than {MAX_REASON} characters")
    return reason.strip() if reason else None


def footage_request(rule: AccessRule, request: Request) -> FootageRequest:
    """The FootageRequest a route's rule and the request's path and query describe."""
    start, end = _range(rule, request)
    camera = request.path_params.get(rule.camera_param or "", "")
    return FootageRequest(rule.action or "", camera, start, end, _reason(request))


def _audit_decision(session: Session, request: Request, who: Principal, req: FootageRequest,
                    decision: Decision) -> None:
    audit.record_access(
        session, actor=who.subject, role=who.role, action=req.action, allowed=decision.allowed,
        camera_id=req.camera_id[:63] or None, footage_start=req.footage_start,
        footage_end=req.footage_end, reason=req.reason, incident_id=decision.incident_id,
        client=client_of(request),
        detail={"basis": decision.basis, "status": status_of(decision.kind),
                "path": request.url.path[:300],
                "grant": decision.grant.id if decision.grant else None})


def _camera_rule(session: Session, state: AppState, authz: Authorizer, request: Request,
                 rule: AccessRule, who: Principal) -> None:
    req = footage_request(rule, request)
    if rule.footage_action:
        decision = decide(authz, session, who, req, state.reason_min)
    else:
        decision = decide_camera(authz, session, who, req.camera_id, rule.action or "")
    if rule.audit:
        _audit_decision(session, request, who, req, decision)
        session.commit()
    state.metrics.decision(req.action, "allow" if decision.allowed else decision.basis)
    refusal = decision.refusal()
    if refusal is not None:
        raise refusal
    request.state.footage = FootageGrant(who, req.action, req.camera_id, req.footage_start,
                                         req.footage_end, req.reason, decision.incident_id,
                                         decision.basis)


def _system_rule(session: Session, state: AppState, authz: Authorizer, request: Request,
                 rule: AccessRule, who: Principal) -> None:
    allowed = rule.action is None or system_allowed(authz, who, rule.action)
    if rule.audit or (not allowed and rule.action):
        audit.record_access(session, actor=who.subject, role=who.role,
                            action=rule.action or "?", allowed=allowed, camera_id=None,
                            footage_start=None, footage_end=None, reason=None,
                            incident_id=None, client=client_of(request),
                            detail={"path": request.url.path[:300]})
        session.commit()
    state.metrics.decision(rule.action or "authenticated", "allow" if allowed else "deny")
    if not allowed:
        raise PermissionDenied(f"{rule.action} is not permitted")


def authorize(request: Request) -> Principal | None:
    """THE global dependency: authenticate, then enforce the route's declared AccessRule."""
    rule = rule_of(request.scope.get("route") and request.scope["route"].endpoint)
    if rule.public:
        return None
    state = app_state(request)
    camera = request.path_params.get(rule.camera_param) if rule.camera_param else None
    # The policy first: it may need a connection of its own, which must never be awaited
    # while this request holds SQLite's write lock (the pool could be empty by then).
    authz = state.policy.current()
    with state.sessions.immediate() as session:  # it writes audit entries after reading
        who = authenticate(session, state, request, camera)
        if rule.camera_param:
            _camera_rule(session, state, authz, request, rule, who)
        else:
            _system_rule(session, state, authz, request, rule, who)
        session.commit()  # an API key's last_used_at
    request.state.principal = who
    return who


def current_principal(who: Annotated[Principal | None, Depends(authorize)]) -> Principal:
    """The authenticated caller (the global dependency already ran; this reuses its result)."""
    if who is None:
        raise NotAuthenticated("not authenticated")
    return who


def footage_access(request: Request,
                   _who: Annotated[Principal | None, Depends(authorize)]) -> FootageGrant:
    """The allowed footage request of a route declared with requires(..., camera=...)."""
    grant = getattr(request.state, "footage", None)
    if grant is None:
        raise PermissionDenied("route does not declare a camera action")
    return grant


def current_authorizer(request: Request) -> Authorizer:
    """The authorizer of the current policy version."""
    return app_state(request).policy.current()


SessionDep = Annotated[Session, Depends(get_session)]
StateDep = Annotated[AppState, Depends(app_state)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
FootageAccess = Annotated[FootageGrant, Depends(footage_access)]
AuthorizerDep = Annotated[Authorizer, Depends(current_authorizer)]
LiveHubDep = Annotated[LiveHub, Depends(live_hub)]
FootageDep = Annotated[FootageReader, Depends(footage_reader)]
