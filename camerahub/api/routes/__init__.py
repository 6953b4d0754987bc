"""Thin routers, one per resource; add yours to ROUTERS (mounted under /api/v1)."""

from . import audit, auth, cameras, health, incidents, live, liveviews, recordings

ROUTERS = (auth.router, cameras.router, recordings.router, incidents.router, audit.router,
           audit.csv_router, live.router, liveviews.router)

__all__ = ["ROUTERS", "health"]
