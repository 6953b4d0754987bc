"""Shared base for every configuration model: strict, immutable, with clear ids."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

# ASCII ids: they end up in object keys, URLs and Casbin policy lines.
Id = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", strip_whitespace=False),
]
DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)
