"""Camera access: how to log in to a configured camera and where its streams are."""

from .access import (
    CameraAccess,
    CameraAccessError,
    CredentialUnavailable,
    StreamUnavailable,
    UnknownCamera,
    UntrustedStreamUri,
    device_service_url,
    insert_login,
)

__all__ = [
    "CameraAccess", "CameraAccessError", "CredentialUnavailable", "StreamUnavailable",
    "UnknownCamera", "UntrustedStreamUri", "device_service_url", "insert_login",
]
