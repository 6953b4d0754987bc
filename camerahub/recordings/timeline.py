"""The timeline of one camera: what a person scrubbing through a day should see, by span.

Base spans tile [start, end) without overlap, one kind each:

- ``recorded``: footage exists (segments closer than the resolution are one span);
- ``gap``: the camera should have been recorded and was not, with the recorded cause
  (``no_recording`` when no gap row explains the hole);
- ``not_recorded``: nothing could be there yet: the future, the segment being written right
  now, or the time before the camera's first recording;
- ``beyond_retention``: older than the camera's retention, so deleted unless held.

Overlay spans lie on top of those: ``held`` (an active legal hold) and ``incident`` (the
window of an incident in the camera's room that the caller takes part in). Everything comes
from the index with three range queries on (camera_id, start) and two small ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from camerahub.db import models as m
from camerahub.db import segments as index

from .service import JOIN_TOLERANCE, FootageError

MAX_TIMELINE = timedelta(days=2)
# The segment being written: a hole this close to "now", with no gap row open, is footage
# that has not been stored yet (segments are at most 60 s long plus a GOP).
IN_PROGRESS = timedelta(seconds=90)
MIN_RESOLUTION = timedelta(milliseconds=1)
MAX_SPANS = 5000  # resolution is raised until the answer stays below this


@dataclass
class Span:
    """One stretch of the timeline; `cause` for gaps, `ref` for holds and incidents."""

    kind: str
    start: datetime
    end: datetime
    cause: str | None = None
    detail: str | None = None
    ref: int | None = None
    segments: int = 0  # recorded spans: how many segments they join
    hidden_gaps: int = 0  # recorded spans: holes shorter than the resolution inside them


@dataclass
class TimelineView:
    camera_id: str
    start: datetime
    end: datetime
    resolution: timedelta
    spans: list[Span] = field(default_factory=list)  # base spans, in time order
    overlays: list[Span] = field(default_factory=list)  # held and incident spans
    first_recording: datetime | None = None
    retention_horizon: datetime | None = None


def default_resolution(start: datetime, end: datetime) -> timedelta:
    """About one pixel of a 1440-pixel-wide bar, never finer than a second."""
    return max(timedelta(seconds=1), (end - start) / 1440)


def _recorded(rows: Sequence, start: datetime, end: datetime,
              join: timedelta) -> list[Span]:
    """Runs of segments, joined across holes no longer than `join`, clipped to the range."""
    runs: list[Span] = []
    for seg_start, seg_end in rows:
        lo, hi = max(seg_start, start), min(seg_end, end)
        if runs and lo - runs[-1].end <= join:
            run = runs[-1]
            if lo - run.end > JOIN_TOLERANCE:
                run.hidden_gaps += 1
            run.end = max(run.end, hi)
            run.segments += 1
        else:
            runs.append(Span("recorded", lo, hi, segments=1))
    return runs


def _seconds_between(dialect: str, lo, hi):
    """SQL: seconds from lo to hi, or None where the database has no such arithmetic."""
    if dialect == "postgresql":
        return func.extract("epoch", hi - lo)
    if dialect == "sqlite":
        return (func.julianday(hi) - func.julianday(lo)) * 86400.0
    return None


def _runs_in_sql(session: Session, camera_id: str, start: datetime, end: datetime,
                 join: timedelta) -> list[Span] | None:
    """The recorded runs computed by the database ("gaps and islands" with window functions):
    a day is 8,640 segments but a handful of runs, so only the runs travel. None where the
    dialect has no interval arithmetic we know."""
    seg = m.Segment
    dialect = session.get_bind().dialect.name
    inner = (select(seg.start, seg.end,
                    func.lag(seg.end).over(order_by=seg.start).label("prev_end"))
             .where(seg.camera_id == camera_id, seg.start < end, seg.end > start,
                    seg.start >= start - timedelta(seconds=120))
             .subquery())
    gap = _seconds_between(dialect, inner.c.prev_end, inner.c.start)
    if gap is None:
        return None
    join_s, tol_s = join.total_seconds(), JOIN_TOLERANCE.total_seconds()
    new_run = case((or_(inner.c.prev_end.is_(None), gap > join_s), 1), else_=0)
    hidden = case((and_(inner.c.prev_end.is_not(None), gap > tol_s, gap <= join_s), 1),
                  else_=0)
    marked = select(inner.c.start, inner.c.end, hidden.label("hidden"),
                    func.sum(new_run).over(order_by=inner.c.start).label("run")).subquery()
    stmt = (select(func.min(marked.c.start), func.max(marked.c.end), func.count(),
                   func.sum(marked.c.hidden))
            .group_by(marked.c.run).order_by(func.min(marked.c.start)))
    return [Span("recorded", lo, hi, segments=int(n), hidden_gaps=int(h or 0))
            for lo, hi, n, h in session.execute(stmt).all()]


def _cause(gaps: Sequence[m.Gap], lo: datetime, hi: datetime) -> tuple[str, str | None]:
    for gap in gaps:
        if gap.start < hi and (gap.end is None or gap.end > lo):
            return gap.cause, gap.detail
    return "no_recording", None


def _split(lo: datetime, hi: datetime, at: datetime | None) -> list[tuple[datetime, datetime]]:
    """[lo, hi) cut at `at` when it lies inside."""
    if at is not None and lo < at < hi:
        return [(lo, at), (at, hi)]
    return [(lo, hi)]


def _hole_kind(lo: datetime, hi: datetime, *, now: datetime, first: datetime | None,
               horizon: datetime | None, gaps: Sequence[m.Gap],
               last_end: datetime | None) -> Span:
    """What a stretch without footage is; [lo, hi) lies wholly on one side of every cut."""
    if lo >= now:
        return Span("not_recorded", lo, hi, cause="future")
    if first is None or hi <= first:
        return Span("not_recorded", lo, hi, cause="before_first_recording")
    if horizon is not None and hi <= horizon:
        return Span("beyond_retention", lo, hi)
    cause, detail = _cause(gaps, lo, hi)
    if (cause == "no_recording" and hi >= now and last_end is not None
            and now - last_end <= IN_PROGRESS):
        return Span("not_recorded", lo, hi, cause="in_progress")
    return Span("gap", lo, hi, cause=cause, detail=detail)


def _merge(spans: list[Span]) -> list[Span]:
    """Neighbours of the same kind and cause become one span."""
    merged: list[Span] = []
    for span in spans:
        last = merged[-1] if merged else None
        if (last is not None and last.kind == span.kind and last.cause == span.cause
                and span.start - last.end <= JOIN_TOLERANCE and span.kind != "recorded"):
            last.end = span.end
        else:
            merged.append(span)
    return merged


def _base_spans(runs: list[Span], gaps: Sequence[m.Gap], start: datetime, end: datetime,
                now: datetime, first: datetime | None,
                horizon: datetime | None) -> list[Span]:
    last_end = runs[-1].end if runs else None  # unclipped: the newest footage's end
    for run in runs:
        run.start, run.end = max(run.start, start), min(run.end, end)
    out: list[Span] = []
    cursor = start

    def holes_until(stop: datetime) -> None:
        if stop - cursor <= JOIN_TOLERANCE:
            return
        pieces = [(cursor, stop)]
        for cut in (now, first, horizon):
            pieces = [p for lo, hi in pieces for p in _split(lo, hi, cut)]
        for lo, hi in pieces:
            out.append(_hole_kind(lo, hi, now=now, first=first, horizon=horizon, gaps=gaps,
                                  last_end=last_end))

    for run in runs:
        holes_until(run.start)
        out.append(run)
        cursor = max(cursor, run.end)
    holes_until(end)
    return _merge(out)


def _overlays(session: Session, camera_id: str, start: datetime, end: datetime,
              incidents: ColumnElement[bool] | None, with_incidents: bool) -> list[Span]:
    spans = []
    holds = session.execute(
        select(m.Hold.id, m.Hold.start, m.Hold.end)
        .where(m.Hold.camera_id == camera_id, m.Hold.released_at.is_(None),
               m.Hold.start < end, m.Hold.end > start).order_by(m.Hold.start)).all()
    spans += [Span("held", max(lo, start), min(hi, end), ref=hid) for hid, lo, hi in holds]
    if with_incidents:
        room = select(m.Camera.room_id).where(m.Camera.id == camera_id).scalar_subquery()
        stmt = (select(m.Incident.id, m.Incident.window_start, m.Incident.window_end,
                       m.Incident.state)
                .where(m.Incident.room_id == room, m.Incident.window_start < end,
                       m.Incident.window_end > start)
                .order_by(m.Incident.window_start).limit(200))
        if incidents is not None:
            stmt = stmt.where(incidents)
        for iid, lo, hi, state in session.execute(stmt).all():
            spans.append(Span("incident", max(lo, start), min(hi, end), cause=state, ref=iid))
    return sorted(spans, key=lambda s: s.start)


def camera_timeline(session: Session, camera_id: str, start: datetime, end: datetime, *,
                    now: datetime, resolution: timedelta | None = None,
                    incidents: ColumnElement[bool] | None = None,
                    with_incidents: bool = True) -> TimelineView:
    """The timeline of [start, end) as seen at `now`.

    `incidents` is the caller's incident visibility (a WHERE condition on Incident, None for
    every incident); with_incidents=False leaves incident windows out altogether.
    """
    if end <= start:
        raise FootageError("invalid", "end must be after start")
    if end - start > MAX_TIMELINE:
        raise FootageError("invalid", f"a timeline may span at most {MAX_TIMELINE}")
    step = resolution or default_resolution(start, end)
    step = max(step, MIN_RESOLUTION, (end - start) / MAX_SPANS)
    seg = m.Segment
    runs = _runs_in_sql(session, camera_id, start, end, step)
    if runs is None:  # another database: join the runs here
        rows = session.execute(
            select(seg.start, seg.end)
            .where(seg.camera_id == camera_id, seg.start < end, seg.end > start,
                   seg.start >= start - timedelta(seconds=120))
            .order_by(seg.start)).all()
        runs = _recorded(rows, datetime.min.replace(tzinfo=start.tzinfo),
                         datetime.max.replace(tzinfo=start.tzinfo), step)
    first = session.scalar(select(func.min(seg.start)).where(seg.camera_id == camera_id))
    days = session.scalar(select(m.Camera.retention_days).where(m.Camera.id == camera_id))
    horizon = now - timedelta(days=days) if days else None
    gaps = index.gaps_in_range(session, camera_id, start, end)
    view = TimelineView(camera_id, start, end, step, first_recording=first,
                        retention_horizon=horizon)
    view.spans = _base_spans(runs, gaps, start, end, now, first, horizon)
    view.overlays = _overlays(session, camera_id, start, end, incidents, with_incidents)
    return view
