"""Saved live walls: each user's named layouts (1/4/9/16/25), filters and page cycle."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from camerahub.db import models as m
from camerahub.db.types import utcnow

PRINTABLE = re.compile(r"[^\x00-\x1f\x7f]*")
FLOOR = re.compile(r"-?[0-9]{0,3}")
# printable, no path or query characters, not starting with a dot or a space
NAME = re.compile(r"[^\x00-\x20\x7f/\\?#%.][^\x00-\x1f\x7f/\\?#%]{0,59}")
MAX_VIEWS = 1000  # per user: bounded, far above any real wall list


def _json_integer(value: object) -> object:
    """A JSON integer (5 or 5.0, as JSON Schema has it), never a string or a boolean."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    return value


class Filters(BaseModel):
    """Which cameras the wall shows: all, or those of a site, a floor, a room."""

    model_config = ConfigDict(extra="forbid", strict=True)
    site: str = Field(default="", max_length=63)
    floor: str = Field(default="", max_length=4, description="a floor number, or empty")
    room: str = Field(default="", max_length=63)

    def problem(self) -> str | None:
        """What is wrong with these filters (checked after parsing: a 400), or None."""
        for name in ("site", "room"):
            if not PRINTABLE.fullmatch(getattr(self, name)):
                return f"filters.{name} has control characters"
        if not FLOOR.fullmatch(self.floor):
            return "filters.floor must be a floor number"
        return None


class LiveViewIn(BaseModel):
    """A wall to save under a name (PUT replaces one of the same name)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    layout: Literal[1, 4, 9, 16, 25]
    cycle_s: int = Field(default=0, ge=0, le=3600, description="0: do not cycle pages")
    filters: Filters = Field(default_factory=Filters)

    @field_validator("layout", "cycle_s", mode="before")
    @classmethod
    def _integers(cls, value: object) -> object:
        return _json_integer(value)


class BadView(ValueError):
    """A view that parsed but cannot be saved (its name or filters, or one view too many)."""


def _out(row: m.LiveView) -> dict:
    return {"name": row.name, "layout": row.layout, "cycle_s": row.cycle_s,
            "filters": row.filters, "updated_at": row.updated_at}


def list_views(session: Session, user_id: str) -> list[dict]:
    """The user's saved walls, by name."""
    rows = session.scalars(select(m.LiveView).where(m.LiveView.user_id == user_id)
                           .order_by(m.LiveView.name))
    return [_out(r) for r in rows]


def save_view(session: Session, user_id: str, name: str, view: LiveViewIn) -> dict:
    """Create or replace the user's wall called name (the caller commits); BadView."""
    if not NAME.fullmatch(name):
        raise BadView("a view name is 1-60 printable characters without / \\ ? # %, "
                      "not starting with a dot or a space")
    problem = view.filters.problem()
    if problem:
        raise BadView(problem)
    row = session.scalar(select(m.LiveView).where(m.LiveView.user_id == user_id,
                                                  m.LiveView.name == name))
    if row is None:
        count = len(list_views(session, user_id))
        if count >= MAX_VIEWS:
            raise BadView(f"at most {MAX_VIEWS} saved views")
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
