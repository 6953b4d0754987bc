"""Saved live walls: each user's named layouts (1/4/9/16/25), filters and page cycle."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from camerahub.db import models as m
from camerahub.db.types import utcnow

PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
MAX_VIEWS = 50  # per user: a wall list, not a store


class Filters(BaseModel):
    """Which cameras the wall shows: all, or those of a site, a floor, a room."""

    model_config = ConfigDict(extra="forbid", strict=True)
    site: str = Field(default="", max_length=63, pattern=PRINTABLE)
    floor: str = Field(default="", max_length=4, pattern=r"^-?[0-9]*$")
    room: str = Field(default="", max_length=63, pattern=PRINTABLE)


class LiveViewIn(BaseModel):
    """A wall to save under a name (PUT replaces one of the same name)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    layout: Literal[1, 4, 9, 16, 25]
    cycle_s: int = Field(default=0, ge=0, le=3600, description="0: do not cycle pages")
    filters: Filters = Field(default_factory=Filters)


class TooManyViews(ValueError):
    """The user already has MAX_VIEWS saved walls."""


def _out(row: m.LiveView) -> dict:
    return {"name": row.name, "layout": row.layout, "cycle_s": row.cycle_s,
            "filters": row.filters, "updated_at": row.updated_at}


def list_views(session: Session, user_id: str) -> list[dict]:
    """The user's saved walls, by name."""
    rows = session.scalars(select(m.LiveView).where(m.LiveView.user_id == user_id)
                           .order_by(m.LiveView.name))
    return [_out(r) for r in rows]


def save_view(session: Session, user_id: str, name: str, view: LiveViewIn) -> dict:
    """Create or replace the user's wall called name (the caller commits)."""
    row = session.scalar(select(m.LiveView).where(m.LiveView.user_id == user_id,
                                                  m.LiveView.name == name))
    if row is None:
        count = len(list_views(session, user_id))
        if count >= MAX_VIEWS:
            raise TooManyViews(f"at most {MAX_VIEWS} saved views")
        row = m.LiveView(user_id=user_id, name=name)
        session.add(row)
    row.layout, row.cycle_s = view.layout, view.cycle_s
    row.filters, row.updated_at = view.filters.model_dump(), utcnow()
    session.flush()
    return _out(row)


def delete_view(session: Session, user_id: str, name: str) -> bool:
    """Delete the user's wall called name; False if there was none."""
    done = session.execute(delete(m.LiveView).where(m.LiveView.user_id == user_id,
                                                    m.LiveView.name == name))
    return bool(done.rowcount)
