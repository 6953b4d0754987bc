"""What the live hub raises: a domain error of kind unavailable (the API answers 503)."""

from __future__ import annotations

from camerahub.errors import CamerahubError, ErrorKind


class LiveUnavailable(CamerahubError):
    """The camera's live stream cannot be served now (unreachable, refused, no stream)."""

    kind = ErrorKind.UNAVAILABLE
