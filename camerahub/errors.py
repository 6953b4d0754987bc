"""The one base of our domain errors; each says what kind of failure it is, never HTTP.

This module imports nothing of ours, so every layer may raise these. The API maps each
kind to a status code in one table (camerahub.api.errors); the CLI may map kinds to exit
codes the same way.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """What went wrong, from the caller's point of view."""

    INVALID = "invalid"  # the request itself is wrong (bad range, missing reason...)
    UNAUTHENTICATED = "unauthenticated"  # no valid credentials
    FORBIDDEN = "forbidden"  # known caller, action not permitted
    NOT_FOUND = "not_found"  # does not exist, or the caller may not know it exists
    CONFLICT = "conflict"  # not possible in the current state
    TOO_LARGE = "too_large"  # the request is bigger than we accept
    CORRUPT = "corrupt"  # stored data failed its integrity check
    UNAVAILABLE = "unavailable"  # a dependency (camera, store) cannot serve it now
    INTERNAL = "internal"  # a bug or an unclassified failure


class CamerahubError(Exception):
    """Base of every domain error; `kind` is a class default a subclass or instance sets."""

    kind: ErrorKind = ErrorKind.INTERNAL


class KindedError(CamerahubError):
    """A domain error whose kind is given per instance: KindedError("not_found", msg)."""

    def __init__(self, kind: ErrorKind | str, message: str):
        super().__init__(message)
        self.kind = ErrorKind(kind)
