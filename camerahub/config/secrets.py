"""Secret references: the YAML names where a secret lives, never the secret itself."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator

from .base import Strict


class SecretMissing(Exception):
    """A referenced secret is not available in the environment or on disk."""


class SecretRef(Strict):
    """A secret given by environment variable or file, exactly one of the two."""

    env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError("give exactly one of env or file")
        return self

    def resolve(self) -> str:
        """Return the secret's value, or raise SecretMissing naming the reference."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if not value:
                raise SecretMissing(f"environment variable {self.env} is not set")
            return value
        try:
            return self.file.read_text(encoding="utf-8").strip()  # type: ignore[union-attr]
        except OSError as exc:
            raise SecretMissing(f"secret file {self.file}: {exc.strerror}") from None

    def describe(self) -> str:
        """Where the secret comes from, safe to log."""
        return f"env:{self.env}" if self.env else f"file:{self.file}"


def secret_ref(env: str | None, file: Path | None) -> SecretRef | None:
    """Build a SecretRef from the two optional fields a model carries, or None."""
    if env is None and file is None:
        return None
    return SecretRef(env=env, file=file)
