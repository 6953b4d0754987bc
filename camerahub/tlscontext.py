"""How camerahub checks a camera over TLS (rtsps:// streams, ONVIF over HTTPS): one rule.

The system's CAs, or the PEM file the deployment names (`defaults.tls_ca_file`: an office
CA, or the cameras' own self-signed certificates); TLS 1.2 at least; the certificate must
name the host or IP address connected to. There is no way to switch any of it off.
"""

from __future__ import annotations

import ssl


def camera_tls_context(ca_file: str | None = None) -> ssl.SSLContext:
    """A new client context for cameras; OSError or ssl.SSLError if ca_file is unusable."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context
