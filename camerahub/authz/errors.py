"""Exceptions of authentication and authorization; the API maps each to one status code."""

from __future__ import annotations


class AccessError(Exception):
    """Base of every access-control failure."""


class NotAuthenticated(AccessError):
    """No valid credentials (401); the message never says which check failed."""


class PermissionDenied(AccessError):
    """The caller may see the resource but not take this action on it (403)."""


class NotVisible(AccessError):
    """The resource does not exist or the caller may not know it exists (404)."""


class ReasonRequired(AccessError):
    """Footage access that must state a reason came without one (400)."""


class InvalidRequest(AccessError):
    """A malformed access request, e.g. a footage range that ends before it starts (400)."""


class WeakSecret(AccessError):
    """The token signing secret is missing, short or a known default."""


class PasswordPolicyError(AccessError):
    """A new password breaks the configured policy (report 2 (5))."""


class UnknownAccount(AccessError):
    """A user or API key named on the command line or by a service does not exist."""
