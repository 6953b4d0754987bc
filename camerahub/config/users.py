"""Users and their roles; scopes tie managers to their part of the org tree."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import DisplayName, Id, Strict

Role = Literal["crisis-management", "department-head", "division-manager", "ops", "auditor"]
SCOPED_ROLES = {"department-head": "department", "division-manager": "division"}


class User(Strict):
    """A person who signs in; managers are scoped to a department or division."""

    id: Id
    name: DisplayName
    role: Role
    scope: Id | None = Field(default=None, description="Department or division id")
    email: str | None = Field(default=None, max_length=254)
    live: bool = Field(default=False, description="Grant live view to a manager")

    @model_validator(mode="after")
    def _scope_matches_role(self) -> User:
        if self.role in SCOPED_ROLES and self.scope is None:
            raise ValueError(f"role {self.role} needs a scope ({SCOPED_ROLES[self.role]} id)")
        if self.role not in SCOPED_ROLES and self.scope is not None:
            raise ValueError(f"role {self.role} is not scoped; remove scope")
        return self
