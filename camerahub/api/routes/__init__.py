"""Thin routers, one per resource; add yours to ROUTERS (mounted under /api/v1)."""

from . import audit, auth, cameras, health, incidents, live, liveviews, ops, recordings, register

ROUTERS = (auth.router, cameras.router, recordings.router, incidents.router, audit.router,
           audit.csv_router, live.router, live.wall_router, liveviews.router, register.router,
           ops.router)

__all__ = ["ROUTERS", "health"]
