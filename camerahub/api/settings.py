"""Settings of the HTTP layer: the config it answers with, the signing secret, its limits."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from camerahub.authz.tokens import check_secret, ephemeral_secret, secret_problem
from camerahub.config import Config, SecretMissing
from camerahub.config.secrets import SecretRef
from camerahub.config.services import Auth

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024  # the API takes forms and small JSON; footage goes out, not in


@dataclass(frozen=True)
class Settings:
    """What create_app needs beside the services; Settings.load() resolves the secret.

    The database, store, hashing costs and the rest belong to the services, which the
    composition root (camerahub.composition) builds from the same config.
    """

    config: Config
    secret_key: str = field(repr=False)
    demo: bool = False
    max_body_bytes: int = MAX_BODY_BYTES

    @classmethod
    def load(cls, config: Config, *, demo: bool = False, **overrides) -> Settings:
        """Settings with the signing secret read from auth.secret_file or auth.secret_env."""
        return cls(config=config, secret_key=resolve_secret(config.auth, demo), demo=demo,
                   **overrides)


def _secret_ref(auth: Auth) -> SecretRef | None:
    if auth.secret_file is not None:
        return SecretRef(file=auth.secret_file)
    return SecretRef(env=auth.secret_env) if auth.secret_env else None


def resolve_secret(auth: Auth, demo: bool = False) -> str:
    """The signing secret; WeakSecret if missing or weak, unless in demo mode."""
    ref = _secret_ref(auth)
    try:
        value = ref.resolve() if ref else None
    except SecretMissing:
        value = None
    check_secret(value, demo)
    problem = secret_problem(value)
    if problem:
        log.warning("demo mode: token signing secret %s; using a random one for this run",
                    problem)
        return ephemeral_secret()
    return value  # type: ignore[return-value]
