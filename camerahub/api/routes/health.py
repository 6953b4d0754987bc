"""GET /healthz (alive), GET /readyz (database, store, recorders; no authentication) and GET
/metrics (needs the health permission)."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from camerahub.db import models as m
from camerahub.errors import ErrorKind as K
from camerahub.inventory import Thresholds, camera_states, recorders
from camerahub.inventory.overview import database_health, store_health
from camerahub.jobs.alarms import KINDS

from .. import openapi as doc
from ..access import public, requires
from ..deps import StateDep
from ..metrics import series

root = APIRouter(tags=["health"])
UNAVAILABLE = {"description": "Not ready; the body names the failing check",
               "content": {"application/json": {}}}


@root.get("/healthz", responses={503: {"description": "The database is unreachable",
                                       "content": {"application/json": {}}}})
@public
def healthz(state: StateDep) -> JSONResponse:
    """Liveness and database reachability, for load balancers; reveals nothing else."""
    try:
        with state.sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


@root.get("/readyz", responses={503: UNAVAILABLE})
@public
def readyz(state: StateDep) -> JSONResponse:
    """Ready to serve footage: the database answers, the store answers, and, when any camera
    is recorded, at least one recorder's heartbeat is fresh. Each check says ok or failing
    (no names, paths or errors: the probe needs no authentication)."""
    checks = {"database": database_health(state.sessions)["ok"],
              "store": store_health(state.services.store)["ok"]}
    if checks["database"]:
        try:
            with state.sessions() as session:
                wanted = session.scalar(select(func.count()).select_from(m.Camera)
                                        .where(m.Camera.recording_enabled.is_(True))) or 0
                beats = recorders(session, thresholds=_thresholds(state))
            checks["recorders"] = wanted == 0 or any(b["alive"] for b in beats)
        except SQLAlchemyError:
            checks["database"] = False
    ok = all(checks.values())
    body = {"status": "ready" if ok else "not ready",
            "checks": {k: "ok" if v else "failing" for k, v in checks.items()}}
    return JSONResponse(body, status_code=200 if ok else 503)


def _thresholds(state) -> Thresholds:
    return Thresholds(segment_late_s=state.config.alarms.segment_late_s)


@root.get("/metrics", response_class=Response,
          responses=doc.responses(K.UNAUTHENTICATED, K.FORBIDDEN, ok=doc.METRICS))
@requires("health")
def metrics(state: StateDep) -> PlainTextResponse:
    """Prometheus text; scrape it with an API key of scope `health`."""
    authz = state.policy.current()
    body = state.metrics.render(authz.version, state.policy.reloads, _gauges(state))
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4")


def _gauges(state) -> list[str]:
    """Per-camera, recorder, upload, discovery, live and alarm series, read now."""
    with state.sessions() as s:
        sites = dict(s.execute(select(m.Camera.id, m.Camera.site_id)).all())
        cams = camera_states(s, thresholds=_thresholds(state))
        beats = recorders(s, thresholds=_thresholds(state))
    rows = sorted(cams.items())

    def per_camera(name, value_of):
        return series(name, [({"camera": cid, "site": sites.get(cid, "")}, value_of(st))
                             for cid, st in rows])

    findings: Counter[str] = Counter(k for _, st in rows for k in set(st["findings"]))
    lines = per_camera("camerahub_camera_online", lambda st: int(st["online"] == "online"))
    lines += per_camera("camerahub_camera_recording", lambda st: int(st["recording"]))
    lines += per_camera("camerahub_camera_last_segment_age_seconds",
                        lambda st: st["last_segment_age_s"])
    lines += per_camera("camerahub_camera_recent_bytes", lambda st: st["recent_bytes"])
    lines += per_camera("camerahub_camera_bitrate_bps", lambda st: st["bitrate_bps"])
    lines += per_camera("camerahub_camera_reconnects_total", lambda st: st["reconnects"])
    lines += per_camera("camerahub_camera_clock_skew_seconds", lambda st: st["clock_skew_s"])

    def per_recorder(name, key, fn=lambda v: v):
        return series(name, [({"recorder": b["id"]}, fn(b.get(key))) for b in beats])

    lines += per_recorder("camerahub_recorder_up", "alive", int)
    lines += per_recorder("camerahub_recorder_heartbeat_age_seconds", "age_s")
    lines += per_recorder("camerahub_recorder_cameras", "cameras")
    lines += per_recorder("camerahub_spool_bytes", "spool_bytes")
    lines += per_recorder("camerahub_spool_segments", "spool_segments")
    lines += per_recorder("camerahub_spool_limit_bytes", "spool_limit_bytes")
    lines += per_recorder("camerahub_upload_lag_seconds", "upload_lag_s")
    lines += per_recorder("camerahub_uploaded_segments_total", "uploaded_segments")
    lines += per_recorder("camerahub_uploaded_bytes_total", "uploaded_bytes")
    lines += series("camerahub_discovery_findings",
                    [({"kind": k}, n) for k, n in sorted(findings.items())])
    live = state.live.stats()
    lines += series("camerahub_live_viewers",
                    [({"camera": cid}, st["viewers"]) for cid, st in sorted(live.items())])
    lines += series("camerahub_live_sessions", [({}, len(live))])
    active = state.services.alarms.active() if state.services.alarms is not None else []
    kinds: Counter[str] = Counter(a["kind"] for a in active)
    lines += series("camerahub_alarms_active", [({"kind": k}, kinds.get(k, 0)) for k in KINDS])
    return lines
