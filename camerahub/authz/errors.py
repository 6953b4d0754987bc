"""Exceptions of authentication and authorization, each of one domain kind (see errors.py)."""

from __future__ import annotations

from camerahub.errors import CamerahubError, ErrorKind


class AccessError(CamerahubError):
    """Base of every access-control failure; refused unless a subclass says otherwise."""

    kind = ErrorKind.FORBIDDEN


class NotAuthenticated(AccessError):
    """No valid credentials; the message never says which check failed."""

    kind = ErrorKind.UNAUTHENTICATED


class PermissionDenied(AccessError):
    """The caller may see the resource but not take this action on it."""

    kind = ErrorKind.FORBIDDEN


class NotVisible(AccessError):
    """The resource does not exist or the caller may not know it exists."""

    kind = ErrorKind.NOT_FOUND


class ReasonRequired(AccessError):
    """Footage access that must state a reason came without one."""

    kind = ErrorKind.INVALID


class InvalidRequest(AccessError):
    """A malformed access request, e.g. a footage range that ends before it starts."""

    kind = ErrorKind.INVALID


class WeakSecret(AccessError):
    """The token signing secret is missing, short or a known default."""

    kind = ErrorKind.INVALID


class PasswordPolicyError(AccessError):
    """A new password breaks the configured policy (report 2 (5))."""

    kind = ErrorKind.INVALID


class UnknownAccount(AccessError):
    """A user or API key named on the command line or by a service does not exist."""

    kind = ErrorKind.NOT_FOUND
