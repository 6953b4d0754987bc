"""Users and their roles; scopes tie managers to their part of the org tree."""

from __future__ import annotations

from enum import StrEnum

from pydantic import ConfigDict, Field, model_validator

from .base import DisplayName, Id, Strict


class Role(StrEnum):
    """The roles a user can hold: the one definition every module refers to.

    policies/base.csv spells the same names for casbin; tests/authz check they agree.
    """

    CRISIS_MANAGEMENT = "crisis-management"  # 危機管理: every camera, incidents, holds
    DEPARTMENT_HEAD = "department-head"  # 部長: footage of their department
    DIVISION_MANAGER = "division-manager"  # 統括管理者: footage of their division
    OPS = "ops"  # 情報システム担当: deployment and health, no footage
    AUDITOR = "auditor"  # 情報安全対策委員会: the access records, no footage


# Roles held in a part of the org tree, and the kind of area their scope names.
SCOPED_ROLES = {Role.DEPARTMENT_HEAD: "department", Role.DIVISION_MANAGER: "division"}


class User(Strict):
    """A person who signs in; managers are scoped to a department or division."""

    # role stays a plain string after validation: it is stored, compared and dumped as one.
    model_config = ConfigDict(use_enum_values=True)

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
