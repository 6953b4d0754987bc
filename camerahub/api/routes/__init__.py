"""Thin routers, one per resource; add yours to ROUTERS (mounted under /api/v1)."""

from . import audit, auth, cameras, health

ROUTERS = (auth.router, cameras.router, audit.router, audit.csv_router)

__all__ = ["ROUTERS", "health"]
