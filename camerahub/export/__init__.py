"""Evidence export: signed bundles of an incident's footage, and their verification."""

from .bundle import (
    BundleError,
    VerifyReport,
    build_bundle,
    fingerprint,
    generate_key,
    load_private_key,
    load_public_key,
    public_pem,
    verify_bundle,
)

__all__ = ["BundleError", "VerifyReport", "build_bundle", "fingerprint", "generate_key",
           "load_private_key", "load_public_key", "public_pem", "verify_bundle"]
