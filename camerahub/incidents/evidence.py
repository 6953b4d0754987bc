"""An incident's evidence bundle for download: the configured signing key, a temporary file."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from camerahub.config import SecretMissing, SecretRef
from camerahub.config.cameras import Privacy
from camerahub.config.services import Export
from camerahub.errors import ErrorKind
from camerahub.export import BundleError, build_bundle, load_private_key
from camerahub.storage import SegmentStore

from .errors import IncidentError


def signing_pem(settings: Export) -> str:
    """The configured Ed25519 signing key as PEM; IncidentError (invalid) if there is none."""
    ref = (SecretRef(env=settings.signing_key_env) if settings.signing_key_env
           else SecretRef(file=settings.signing_key_file) if settings.signing_key_file else None)
    if ref is None:
        raise IncidentError(ErrorKind.INVALID, "no export signing key is configured")
    try:
        value = ref.resolve()
    except SecretMissing as exc:
        raise IncidentError(ErrorKind.INVALID, f"export signing key unavailable: {exc}") from None
    # An env var may carry the PEM itself or the path of a PEM file.
    return value if value.startswith("-----") else Path(value).read_text(encoding="utf-8")


def bundle_to_temp(sessions: sessionmaker[Session], store: SegmentStore, settings: Export,
                   incident_id: int, actor: str, client: str | None = None,
                   privacy: Mapping[str, Privacy] | None = None,
                   unmasked_reason: str | None = None) -> Path:
    """Build the incident's signed bundle into a new temporary file; the caller removes it.

    The bundle's `export` audit entry (time ranges per camera, cited by its chain of custody)
    is written in the same transaction: no bundle without its entry.
    """
    key = load_private_key(signing_pem(settings))
    out = Path(tempfile.mkdtemp(prefix="camerahub-export-")) / f"incident-{incident_id}.zip"
    try:
        with sessions.begin() as session:
            build_bundle(session, store, incident_id, actor, key, out, client=client,
                         privacy=privacy, unmasked_reason=unmasked_reason)
    except BundleError as exc:
        remove_bundle(out)
        raise IncidentError(ErrorKind.INVALID, str(exc)) from None
    return out


def remove_bundle(path: Path) -> None:
    """Delete a bundle made by bundle_to_temp, with its temporary directory."""
    shutil.rmtree(path.parent, ignore_errors=True)
