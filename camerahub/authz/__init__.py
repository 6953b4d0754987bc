"""Authentication and authorization: casbin policy by area, passwords, tokens, keys, grants."""

from .accounts import Principal
from .authorizer import Authorizer
from .decision import Decision, FootageRequest, decide, decide_camera, system_allowed
from .errors import (
    AccessError,
    InvalidRequest,
    NotAuthenticated,
    NotVisible,
    PasswordPolicyError,
    PermissionDenied,
    ReasonRequired,
    UnknownAccount,
    WeakSecret,
)
from .grants import create_grant, revoke_grant
from .policy import ACTIONS, FOOTAGE_ACTIONS, SYSTEM_ACTIONS, VIEW_ACTIONS

__all__ = [
    "ACTIONS", "FOOTAGE_ACTIONS", "SYSTEM_ACTIONS", "VIEW_ACTIONS", "AccessError", "Authorizer",
    "Decision", "FootageRequest", "InvalidRequest", "NotAuthenticated", "NotVisible",
    "PasswordPolicyError", "PermissionDenied", "Principal", "ReasonRequired", "UnknownAccount",
    "WeakSecret", "create_grant", "decide", "decide_camera", "revoke_grant", "system_allowed",
]
