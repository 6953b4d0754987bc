"""Saved live walls of the signed-in user: GET /live-views, PUT and DELETE /live-views/{name}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from camerahub.authz.accounts import PrincipalKind
from camerahub.authz.errors import InvalidRequest, PermissionDenied
from camerahub.errors import CamerahubError, ErrorKind
from camerahub.errors import ErrorKind as K
from camerahub.live.views import BadView, LiveViewIn, delete_view, list_views, save_view

from .. import openapi as doc
from ..access import authenticated
from ..deps import CurrentPrincipal, SessionDep, WriteSessionDep

router = APIRouter(prefix="/live-views", tags=["live"])
ViewName = Annotated[str, Path(min_length=1, max_length=60,
                               description="the view's name, chosen by the user: printable, "
                                           "without / \\ ? # %, not starting with . or a "
                                           "space (else 400)")]


class NoSuchView(CamerahubError):
    """The user has no saved view of that name."""

    kind = ErrorKind.NOT_FOUND


def _user(who) -> str:
    if who.kind != PrincipalKind.USER or who.person is None:
        raise PermissionDenied("saved views belong to signed-in users")
    return who.person


@router.get("", responses=doc.responses(K.UNAUTHENTICATED, K.FORBIDDEN))
@authenticated
def get_views(who: CurrentPrincipal, session: SessionDep) -> list[dict]:
    """The caller's saved live walls."""
    return list_views(session, _user(who))


@router.put("/{name}", responses=doc.responses(K.UNAUTHENTICATED, K.FORBIDDEN, K.INVALID))
@authenticated
def put_view(name: ViewName, view: LiveViewIn, who: CurrentPrincipal,
             session: WriteSessionDep) -> dict:
    """Save (or replace) a live wall of the caller under name."""
    try:
        out = save_view(session, _user(who), name, view)
    except BadView as exc:
        raise InvalidRequest(str(exc)) from None
    session.commit()
    return out


@router.delete("/{name}", status_code=204,
               responses=doc.responses(K.UNAUTHENTICATED, K.FORBIDDEN, K.NOT_FOUND))
@authenticated
def remove_view(name: ViewName, who: CurrentPrincipal, session: WriteSessionDep) -> Response:
    """Delete one of the caller's saved walls."""
    if not delete_view(session, _user(who), name):
        raise NoSuchView("no saved view of that name")
    session.commit()
    return Response(status_code=204)
