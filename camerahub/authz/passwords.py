"""Password hashing (argon2id) and the password policy of report 2 (5)."""

from __future__ import annotations

import string
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .errors import PasswordPolicyError

MAX_PASSWORD_LENGTH = 1024  # argon2 hashes anything, but a megabyte password is an attack
# Verifying against this keeps an unknown user's login as slow as a known one's.
_DUMMY_PASSWORD = "camerahub-timing-equaliser"  # noqa: S105 - not a credential
# Every failure argon2 reports for a wrong or unreadable hash means "does not match".
VERIFY_FAILURES = (VerifyMismatchError, VerificationError, InvalidHashError)


@dataclass(frozen=True)
class HashParams:
    """argon2id cost; the defaults are argon2-cffi's memory-hard RFC 9106 low-memory profile."""

    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 4

    def hasher(self) -> PasswordHasher:
        """An argon2id hasher with these costs."""
        return PasswordHasher(time_cost=self.time_cost, memory_cost=self.memory_cost,
                              parallelism=self.parallelism)


FAST_TEST_PARAMS = HashParams(time_cost=1, memory_cost=8, parallelism=1)


class Passwords:
    """Hash and verify passwords with one set of costs; verify honours each hash's own costs."""

    def __init__(self, params: HashParams = HashParams()):
        self._hasher = params.hasher()
        self._dummy = self._hasher.hash(_DUMMY_PASSWORD)

    def hash(self, password: str) -> str:
        """The encoded argon2id hash of password."""
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True when password matches stored; a missing hash still costs one verification."""
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except VERIFY_FAILURES:
            return False


def character_classes(password: str) -> int:
    """How many of upper case, lower case, digits and symbols the password uses."""
    checks = (str.isupper, str.islower, str.isdigit,
              lambda c: c in string.punctuation or not (c.isalnum() or c.isspace()))
    return sum(any(check(c) for c in password) for check in checks)


def check_password(password: str, min_length: int, classes: int) -> None:
    """Raise PasswordPolicyError unless password meets length and character-class rules."""
    if len(password) < min_length:
        raise PasswordPolicyError(f"password must be at least {min_length} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    if character_classes(password) < classes:
        raise PasswordPolicyError(
            f"password must mix at least {classes} of: upper case, lower case, digits, symbols")
