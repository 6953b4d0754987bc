"""What the incident service raises: a domain error whose kind the API maps to a status."""

from __future__ import annotations

from camerahub.errors import KindedError


class IncidentError(KindedError):
    """A request about incidents that cannot be carried out: not_found, conflict or invalid."""
