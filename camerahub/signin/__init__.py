"""Sign-in: check a password, audit the attempt, issue bearer and media tokens."""

from .service import (
    MEDIA_TOKEN_TTL,
    IssuedToken,
    issue_camera_media_token,
    sign_in,
    token_ttl,
)

__all__ = ["MEDIA_TOKEN_TTL", "IssuedToken", "issue_camera_media_token", "sign_in",
           "token_ttl"]
