"""One audit entry per audited request, written with the request's real outcome.

`deps.authorize` opens an AuditDraft for every audited request (footage, camera lookups,
media tokens, export...) and for every refusal, and fills in what it learns: who (or
anonymous and the client address), camera, range, reason, the access decision and its
basis. The route then runs. AuditMiddleware writes the draft when the response starts,
that is after the route decided its status and before any byte of footage leaves, so an
entry says what really happened: a request the policy allowed but the route refused (no
footage in the range, another camera's segment, a range too long) is not an "allow". If
the entry cannot be written, the client gets a 503 instead of the response.

Decisions: "allow" (served), "deny" (refused by authentication or access control), "fail"
(access was not refused, but the request could not be served: invalid, not found,
unavailable). Anonymous entries go through audit.Throttle (aggregated, never dropped).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from camerahub import audit
from camerahub.audit import actors
from camerahub.authz.accounts import Principal
from camerahub.db.types import utcnow

from .state import AppState

log = logging.getLogger(__name__)
STATE_KEY = "camerahub_audit"
MAX_ERROR = 300
MAX_PATH = 300


@dataclass
class AuditDraft:
    """The entry of one request, completed as authorization and the route go along."""

    action: str
    client: str | None
    path: str
    method: str
    actor: str = actors.ANONYMOUS
    role: str | None = None
    principal: str | None = None  # the principal's kind; None while anonymous
    camera_id: str | None = None
    footage_start: datetime | None = None
    footage_end: datetime | None = None
    reason: str | None = None
    incident_id: int | None = None
    policy: bool | None = None  # the access decision; None when none was made
    basis: str | None = None  # what allowed or refused it (policy, grant, not-visible...)
    error: str | None = None  # the refusal's message, as the client got it
    recorded: bool = False  # a service wrote this request's entry itself (evidence export)
    detail: dict[str, Any] = field(default_factory=dict)

    def identify(self, who: Principal) -> None:
        """Name the caller (typed: user:<id> or apikey:<name>)."""
        self.actor, self.role, self.principal = who.subject, who.role, who.kind

    def decide(self, allowed: bool, basis: str) -> None:
        """Record the access decision and what it rests on."""
        self.policy, self.basis = allowed, basis

    def outcome(self, status: int) -> str:
        """allow, deny or fail for the response status (see the module docstring)."""
        if status < 400:
            return "allow"
        if self.policy is False or status == 401:
            return "deny"
        return "fail"

    def fields(self, status: int) -> dict[str, Any]:
        """The audit.append arguments for the finished request."""
        detail = {"status": status, "path": self.path[:MAX_PATH], "method": self.method,
                  "principal": self.principal or actors.ANONYMOUS, "basis": self.basis,
                  **self.detail}
        if self.error:
            detail["error"] = self.error[:MAX_ERROR]
        return {"actor": self.actor, "role": self.role, "action": self.action,
                "decision": self.outcome(status), "camera_id": self.camera_id,
                "footage_start": self.footage_start, "footage_end": self.footage_end,
                "reason": self.reason, "incident_id": self.incident_id, "client": self.client,
                "detail": detail}


def draft_of(scope: Scope) -> AuditDraft | None:
    """The draft of the request with this ASGI scope, if it is audited."""
    return scope.get("state", {}).get(STATE_KEY)


def write_draft(state: AppState, draft: AuditDraft, status: int) -> None:
    """Append the request's entry (anonymous ones through the throttle), with due aggregates."""
    fields = draft.fields(status)
    now = utcnow()
    with state.sessions.begin() as session:
        for aggregate in state.throttle.due(now):
            audit.append(session, **aggregate)
        if draft.actor != actors.ANONYMOUS or state.throttle.offer(fields, now):
            audit.append(session, **fields)


def flush_aggregates(state: AppState, everything: bool = False) -> None:
    """Write the counts of ended (or all) anonymous windows now: before reading, at shutdown."""
    due = state.throttle.due(utcnow(), everything)
    if due:
        with state.sessions.begin() as session:
            for aggregate in due:
                audit.append(session, **aggregate)


class _AuditFailed(Exception):
    """The entry could not be written; the client got a 503 instead."""


class AuditMiddleware:
    """Writes each audited request's draft when its response starts (or when it failed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_after_audit(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start" and not started:
                started = True
                if not await self._write(scope, message["status"]):
                    await error_response_asgi(scope, receive, send)
                    raise _AuditFailed
            await send(message)

        try:
            await self.app(scope, receive, send_after_audit)
        except _AuditFailed:
            return
        except Exception:
            if not started:
                await self._write(scope, 500)  # the outer handler answers 500
            raise

    async def _write(self, scope: Scope, status: int) -> bool:
        """Write the draft, if any; False when that failed."""
        draft = draft_of(scope)
        if draft is None or draft.recorded:
            return True
        state = scope["app"].state.camerahub
        try:
            await anyio.to_thread.run_sync(write_draft, state, draft, status)
        except Exception:  # noqa: BLE001 - any failure to record must stop the response
            log.exception("audit entry for %s %s could not be written", draft.method,
                          draft.path[:MAX_PATH])
            return False
        return True


async def error_response_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 503: a response whose access could not be recorded is not sent."""
    response = JSONResponse({"detail": "the access could not be recorded"}, status_code=503,
                            headers={"Cache-Control": "no-store"})
    await response(scope, receive, send)


def note_error(scope: Scope, message: str) -> None:
    """Keep a refusal's message for the request's entry (called by the error handlers)."""
    draft = draft_of(scope)
    if draft is not None:
        draft.error = message
