"""What the live hub raises; the API turns it into 503 with the message."""

from __future__ import annotations


class LiveUnavailable(Exception):
    """The camera's live stream cannot be served now (unreachable, refused, no stream)."""
