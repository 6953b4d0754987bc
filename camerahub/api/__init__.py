"""The HTTP API: FastAPI app factory, global authorization dependency, thin routers."""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
