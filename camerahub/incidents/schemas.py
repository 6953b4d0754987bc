"""Request models of alerts and incidents: validated before anything is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from camerahub.times import out_of_range

MAX_WINDOW = timedelta(days=7)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Window(_Strict):
    """A footage time range; times must carry a zone (stored as UTC)."""

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        for name, moment in (("start", self.start), ("end", self.end)):
            problem = out_of_range(moment)  # year 9999 would overflow the hold margins
            if problem:
                raise ValueError(f"window {name} {problem}")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_WINDOW:
            raise ValueError("window longer than 7 days")
        return self


class AlertIn(_Strict):
    """A log alert from the resident-information system's operation-log analysis."""

    alert_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    rule: str = Field(min_length=1, max_length=200)
    employee_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    terminal_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    window: Window
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    text: str | None = Field(default=None, max_length=10_000)


class ManualIncidentIn(_Strict):
    """An incident opened by hand, with the written reason the review needs."""

    room_id: str = Field(min_length=1, max_length=63)
    window: Window
    reason: str = Field(min_length=4, max_length=4000)
    employee_id: str | None = Field(default=None, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    grant_to: list[str] = Field(default_factory=list, max_length=20,
                                description="Extra users (e.g. another division's manager)")


class TransitionIn(_Strict):
    """Move an incident along open -> reviewing -> closed."""

    state: Literal["reviewing", "closed"]
    outcome: str | None = Field(default=None, max_length=4000)


def as_utc(moment: datetime) -> datetime:
    """Normalise an aware datetime to UTC."""
    return moment.astimezone(UTC)
