"""Walking the app's routes, the same way across FastAPI versions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import routing


def each_route(routes: Iterable[Any]) -> Iterator[Any]:
    """Every route, with included routers opened up (path_format, methods, endpoint, matches).

    Newer FastAPI keeps included routers as one entry each and walks them with
    iter_route_contexts; older versions list every route flat.
    """
    walk = getattr(routing, "iter_route_contexts", None)
    return iter(walk(list(routes))) if walk else iter(routes)
