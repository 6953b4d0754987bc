"""POST /auth/token (OAuth2 password flow), who-am-I, and revoking one's own sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel

from camerahub.authz import accounts
from camerahub.authz.errors import NotAuthenticated
from camerahub.errors import ErrorKind as K
from camerahub.signin import sign_in

from .. import openapi as doc
from ..access import authenticated, public
from ..deps import AuthorizerDep, CurrentPrincipal, StateDep, WriteSessionDep, client_of
from ..params import PASSWORD_MAX_LENGTH, USERNAME_MAX_LENGTH

router = APIRouter(prefix="/auth", tags=["auth"])
# The OAuth2 password form, bounded: FastAPI's own form takes any length (a megabyte password
# costs a megabyte of argon2) and documents empty and null values it then refuses.
Username = Annotated[str, Form(min_length=1, max_length=USERNAME_MAX_LENGTH)]
Password = Annotated[str, Form(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
GrantType = Annotated[str, Form(pattern="^password$")]


class TokenOut(BaseModel):
    """OAuth2 token response."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int


class MeOut(BaseModel):
    """The caller and what it may do outside footage."""

    kind: str
    id: str
    role: str | None
    scope: str | None
    actions: list[str]


@router.post("/token", response_model=TokenOut,
             responses=doc.responses(K.UNAUTHENTICATED, K.TOO_LARGE))
@public
def token(username: Username, password: Password, request: Request, state: StateDep,
          grant_type: GrantType = "password") -> TokenOut:
    """Exchange username and password for a short-lived bearer token."""
    try:
        issued = sign_in(state.sessions, state.passwords, state.config.auth,
                         state.settings.secret_key, username, password, client_of(request))
    except NotAuthenticated:
        state.metrics.decision("login", "deny")
        raise
    state.metrics.decision("login", "allow")
    return TokenOut(access_token=issued.token, expires_in=issued.expires_in)


@router.get("/me", response_model=MeOut, responses=doc.responses(K.UNAUTHENTICATED))
@authenticated
def me(who: CurrentPrincipal, authz: AuthorizerDep) -> MeOut:
    """Who the credentials belong to."""
    acts = sorted(authz.permissions(who.id).get("all", ())) if who.kind == "user" else []
    return MeOut(kind=who.kind, id=who.id, role=who.role, scope=who.scope, actions=acts)


@router.post("/revoke", status_code=204, responses=doc.responses(K.UNAUTHENTICATED))
@authenticated
def revoke(who: CurrentPrincipal, session: WriteSessionDep) -> None:
    """End every session of the calling user (sign out everywhere)."""
    if who.kind == "user":
        accounts.revoke_sessions(session, who.id)
        session.commit()
