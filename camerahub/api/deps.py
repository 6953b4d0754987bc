"""Dependencies: the global authorization check every route passes, and typed aliases."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from camerahub.authz import accounts
from camerahub.authz.accounts import Principal, PrincipalKind
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
from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.errors import CamerahubError
from camerahub.live import LiveHub
from camerahub.recordings import FootageReader

from .access import AccessRule, rule_of
from .auditing import STATE_KEY, AuditDraft, write_draft
from .errors import status_of
from .params import REASON_HEADER, parse_time
from .state import AppState

log = logging.getLogger(__name__)
# The range a request for one moment (?at=) is decided and audited for: that millisecond.
MOMENT = timedelta(milliseconds=1)


def app_state(request: HTTPConnection) -> AppState:
    """The AppState of the app serving this request."""
    return request.app.state.camerahub


def live_hub(request: HTTPConnection) -> LiveHub:
    """The app's live hub (built with the app's services, never here)."""
    return app_state(request).live


def footage_reader(request: Request) -> FootageReader:
    """The app's reader of recorded footage."""
    return app_state(request).footage


def get_session(request: Request) -> Iterator[Session]:
    """A database session for one request (routes commit what they change)."""
    with app_state(request).sessions() as session:
        yield session


def client_of(request: HTTPConnection) -> str | None:
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


def method_of(request: HTTPConnection) -> str:
    """The HTTP method; a WebSocket's opening handshake is a GET."""
    return request.scope.get("method") or "GET"


def is_websocket(request: HTTPConnection) -> bool:
    """Is this a WebSocket connection (rather than an HTTP request)?"""
    return request.scope.get("type") == "websocket"


def _credentials(request: HTTPConnection) -> tuple[str, str] | None:
    """(transport, value): "apikey" from X-API-Key or a Bearer chk_ key, "bearer" from
    Authorization: Bearer, "query" from ?access_token=; else None."""
    key = request.headers.get("x-api-key")
    if key:
        return "apikey", key.strip()
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        value = value.strip()
        return ("apikey" if value.startswith("chk_") else "bearer"), value
    media = (request.query_params.get("access_token") or "").strip()
    return ("query", media) if media else None


def authenticate(session: Session, state: AppState, request: HTTPConnection,
                 draft: AuditDraft) -> tuple[Principal, str]:
    """The caller and how its credentials came, or NotAuthenticated (recorded in draft)."""
    creds = _credentials(request)
    if creds is None:
        state.metrics.decision("authenticate", "unauthenticated")
        raise NotAuthenticated("not authenticated")
    transport, value = creds
    try:
        if transport == "apikey":
            who = accounts.principal_from_key(session, value)
        else:
            claims = verify_token(state.settings.secret_key, value)
            who = accounts.user_from_token(session, claims)
    except NotAuthenticated as exc:
        draft.decide(False, "credentials-rejected")
        draft.detail["credentials"] = {"transport": transport, "result": str(exc)}
        _keep(request, draft)
        state.metrics.decision("authenticate", "unauthenticated")
        raise NotAuthenticated("not authenticated") from None
    draft.identify(who)
    draft.detail["credentials"] = transport
    return who, transport


def scope_refusal(who: Principal, transport: str, rule: AccessRule,
                  request: HTTPConnection) -> str | None:
    """Why these credentials may not be used on this route this way, or None.

    A media token is a URL credential for one camera's media: it works only in the query
    string, only on a media URL of that very camera, only to read. Nothing else may travel
    in the query string (it ends up in logs and browser history).
    """
    if who.kind != PrincipalKind.MEDIA:
        return "only a media token may be given as ?access_token=" if transport == "query" \
            else None
    if transport != "query":
        return "a media token is not a bearer token"
    if not rule.media:
        return "a media token opens media URLs only"
    if method_of(request) not in ("GET", "HEAD"):
        return "a media token only reads"
    if request.path_params.get(rule.camera_param or "") != who.camera:
        return "the media token is for another camera"
    return None


def _keep(request: HTTPConnection, draft: AuditDraft) -> None:
    """Make sure the draft is written when the response starts (a refusal, or audited)."""
    setattr(request.state, STATE_KEY, draft)


def _open_draft(request: HTTPConnection, rule: AccessRule) -> AuditDraft:
    """The request's audit draft: the route's action and camera, anonymous for now."""
    action = rule.audit_action or rule.action or "auth.credentials"
    method = "WEBSOCKET" if is_websocket(request) else method_of(request)
    draft = AuditDraft(action=action, client=client_of(request), path=request.url.path,
                       method=method)
    if rule.camera_param:
        draft.camera_id = str(request.path_params.get(rule.camera_param, ""))[:63] or None
    incident = request.path_params.get("incident_id")
    if isinstance(incident, str) and incident.isdigit() and len(incident) < 19:
        draft.incident_id = int(incident)
    if rule.audit:
        _keep(request, draft)
        _describe_early(draft, rule, request)
    return draft


def _describe_early(draft: AuditDraft, rule: AccessRule, request: HTTPConnection) -> None:
    """Range and reason as far as they parse, so anonymous attempts name them too."""
    try:
        draft.footage_start, draft.footage_end = _range(rule, request)
        draft.reason = _reason(request)
    except InvalidRequest:
        pass  # decided, and refused with its message, after authentication


# --- footage requests ----------------------------------------------------------------------


def _range(rule: AccessRule, request: HTTPConnection) -> tuple[datetime | None, datetime | None]:
    if rule.footage == "now":
        return utcnow(), None
    if rule.footage == "none":
        return None, None
    if rule.footage == "at":
        at = parse_time("at", request.query_params.get("at"))
        if at is None:
            raise InvalidRequest("at (ISO 8601) is required")
        return at, at + MOMENT
    start = parse_time("start", request.query_params.get("start"))
    end = parse_time("end", request.query_params.get("end"))
    if rule.footage == "range" and (start is None or end is None):
        raise InvalidRequest("start and end (ISO 8601) are required")
    if start is not None and end is not None and end <= start:
        raise InvalidRequest("end must be after start")
    return start, end


def _reason(request: HTTPConnection) -> str | None:
    reason = request.query_params.get("reason") or request.headers.get(REASON_HEADER)
    if reason is not None and request.query_params.get("reason") is None:
        reason = unquote(reason)  # headers are Latin-1; clients percent-encode Japanese
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidRequest(f"reason is longer than {MAX_REASON} characters")
    return reason.strip() if reason else None


def footage_request(rule: AccessRule, request: HTTPConnection) -> FootageRequest:
    """The FootageRequest a route's rule and the request's path and query describe."""
    start, end = _range(rule, request)
    camera = request.path_params.get(rule.camera_param or "", "")
    return FootageRequest(rule.action or "", camera, start, end, _reason(request))


def _incident_reason(session: Session, incident_id: int) -> str | None:
    incident = session.get(m.Incident, incident_id)
    if incident is None or not incident.reason:
        return None
    return f"インシデント#{incident_id}: {incident.reason}"[:MAX_REASON]


def _camera_rule(session: Session, state: AppState, authz: Authorizer,
                 request: HTTPConnection,
                 rule: AccessRule, who: Principal, draft: AuditDraft) -> None:
    req = footage_request(rule, request)
    draft.footage_start, draft.footage_end, draft.reason = (req.footage_start, req.footage_end,
                                                            req.reason)
    if rule.footage_action:
        decision = decide(authz, session, who, req, state.reason_min)
    else:
        decision = decide_camera(authz, session, who, req.camera_id, rule.action or "")
    request.state.footage = _grant_of(session, state, who, req, decision, draft)


def _grant_of(session: Session, state: AppState, who: Principal, req: FootageRequest,
              decision: Decision, draft: AuditDraft) -> FootageGrant:
    """Record a camera decision in the draft; the grant, or its refusal raised."""
    draft.decide(decision.allowed, decision.basis)
    draft.incident_id = decision.incident_id
    if decision.incident_id is not None and not req.reason:
        # allowed by an incident's grant: the incident's purpose is the viewing reason
        draft.reason = _incident_reason(session, decision.incident_id)
        req = replace(req, reason=draft.reason)
    if decision.grant is not None:
        draft.detail["grant"] = decision.grant.id
    state.metrics.decision(req.action, "allow" if decision.allowed else decision.basis)
    refusal = decision.refusal()
    if refusal is not None:
        raise refusal
    return FootageGrant(who, req.action, req.camera_id, req.footage_start, req.footage_end,
                        req.reason, decision.incident_id, decision.basis)


def _system_rule(state: AppState, authz: Authorizer, request: HTTPConnection,
                 rule: AccessRule,
                 who: Principal, draft: AuditDraft) -> None:
    allowed = rule.action is None or system_allowed(authz, who, rule.action)
    draft.decide(allowed, "policy" if allowed else "not-permitted")
    state.metrics.decision(rule.action or "authenticated", "allow" if allowed else "deny")
    if not allowed:
        _keep(request, draft)
        raise PermissionDenied(f"{rule.action} is not permitted")


def _refuse_scope(state: AppState, request: HTTPConnection, who: Principal,
                  draft: AuditDraft,
                  why: str) -> NotAuthenticated:
    """Record a credential used beyond its scope (a media token elsewhere) and refuse it."""
    draft.decide(False, "credential-scope")
    draft.detail["refused"] = why
    if who.camera is not None:
        draft.detail["token_camera"] = who.camera
    _keep(request, draft)
    state.metrics.decision("authenticate", "credential-scope")
    return NotAuthenticated("not authenticated")


def authorize(request: HTTPConnection) -> Principal | None:
    """THE global dependency: authenticate, then enforce the route's declared AccessRule.

    Every audited request, and every refusal, leaves an AuditDraft that AuditMiddleware
    writes with the real outcome when the response starts.

    A WebSocket has no response for the middleware to see: a refusal is written to the
    audit trail here and kept on the connection (`ws_refusal`), and the route accepts,
    tells the client why and closes (a browser sees nothing of a refused handshake). A
    route that does not look finds no `footage` on its connection and serves nothing.
    """
    if not is_websocket(request):
        return _authorize(request)
    try:
        return _authorize(request)
    except CamerahubError as exc:
        request.state.ws_refusal = exc
        draft = getattr(request.state, STATE_KEY, None)
        if draft is not None:
            draft.error = str(exc)
            write_draft(app_state(request), draft, status_of(exc.kind))
            draft.recorded = True
        return None


def _authorize(request: HTTPConnection) -> Principal | None:
    rule = rule_of(request.scope.get("route") and request.scope["route"].endpoint)
    if rule.public:
        return None
    state = app_state(request)
    draft = _open_draft(request, rule)
    # The policy first: it may need a connection of its own, which must never be awaited
    # while this request holds a database connection (the pool could be empty by then).
    authz = state.policy.current()
    with state.sessions() as session:  # reads only; the audit entry is written later
        who, transport = authenticate(session, state, request, draft)
        why = scope_refusal(who, transport, rule, request)
        if why is not None:
            raise _refuse_scope(state, request, who, draft, why)
        if rule.camera_param:
            _camera_rule(session, state, authz, request, rule, who, draft)
        else:
            _system_rule(state, authz, request, rule, who, draft)
    if who.kind == PrincipalKind.APIKEY:
        with state.sessions.begin() as session:
            accounts.note_key_used(session, who.id)
    request.state.principal = who
    return who


def recorded_by_service(request: Request) -> None:
    """The route's service wrote this request's audit entry itself (the evidence export's,
    which its signed chain of custody cites); the draft is not written a second time."""
    draft = getattr(request.state, STATE_KEY, None)
    if draft is not None:
        draft.recorded = True


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


def get_write_session(request: Request) -> Iterator[Session]:
    """A session for a route that reads and then writes (sign-in: the user, then the failure
    count and the audit entry): on SQLite each transaction takes the write lock up front, so
    it waits its turn instead of failing with "database is locked" when the recorder wrote
    in between."""
    with app_state(request).sessions.immediate() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
WriteSessionDep = Annotated[Session, Depends(get_write_session)]
StateDep = Annotated[AppState, Depends(app_state)]
CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
FootageAccess = Annotated[FootageGrant, Depends(footage_access)]
AuthorizerDep = Annotated[Authorizer, Depends(current_authorizer)]
LiveHubDep = Annotated[LiveHub, Depends(live_hub)]
FootageDep = Annotated[FootageReader, Depends(footage_reader)]


def recheck_footage(state: AppState, token: str, grant: FootageGrant) -> CamerahubError | None:
    """Decide an open footage session (live view) again, now: the token must still verify
    (unexpired, not revoked, the user active) and be a media token of the same person and
    camera, and the policy and grants must still allow it. The refusal, or None."""
    authz = state.policy.current()
    with state.sessions() as session:
        try:
            who = accounts.user_from_token(session, verify_token(state.settings.secret_key,
                                                                 token))
        except NotAuthenticated:
            return NotAuthenticated("the access token expired or was revoked")
        if who.kind != PrincipalKind.MEDIA or who.camera != grant.camera_id \
                or who.person != grant.principal.person:
            return NotAuthenticated("the access token is not for this camera")
        req = FootageRequest(grant.action, grant.camera_id, utcnow(), None, grant.reason)
        return decide(authz, session, who, req, state.reason_min).refusal()


def authorize_tile(state: AppState, token: str, camera_id: str, reason: str | None,
                   draft: AuditDraft) -> FootageGrant:
    """Decide one tile of a wall socket as the tile's own live.ws handshake would be: the
    media token must verify and be of this camera, and the policy and grants must allow
    live view now. Fills the draft (who, decision, basis); raises the refusal."""
    draft.footage_start, draft.reason = utcnow(), reason
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidRequest(f"reason is longer than {MAX_REASON} characters")
    authz = state.policy.current()
    with state.sessions() as session:
        try:
            who = accounts.user_from_token(session, verify_token(state.settings.secret_key,
                                                                 token))
        except NotAuthenticated as exc:
            draft.decide(False, "credentials-rejected")
            draft.detail["credentials"] = {"transport": "message", "result": str(exc)}
            state.metrics.decision("authenticate", "unauthenticated")
            raise NotAuthenticated("not authenticated") from None
        draft.identify(who)
        draft.detail["credentials"] = "message"
        if who.kind != PrincipalKind.MEDIA or who.camera != camera_id:
            draft.decide(False, "credential-scope")
            draft.detail["refused"] = "the media token is for another camera" \
                if who.kind == PrincipalKind.MEDIA else "a tile needs a media token"
            state.metrics.decision("authenticate", "credential-scope")
            raise NotAuthenticated("not authenticated")
        req = FootageRequest("live", camera_id, draft.footage_start, None, reason)
        return _grant_of(session, state, who, req,
                         decide(authz, session, who, req, state.reason_min), draft)
