"""Prometheus metrics (text exposition format 0.0.4): counters kept in process (requests,
access decisions) and gauges read at scrape time from the database (camera state, the
recorders' heartbeats, the segment index, discovery findings), the live hub and the alarms.
Every name is listed in METRIC_NAMES and in the README."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# name -> (type, help); the one list of every metric /metrics exposes
METRIC_NAMES: dict[str, tuple[str, str]] = {
    "camerahub_http_requests_total": ("counter", "HTTP responses by method and status"),
    "camerahub_access_decisions_total": ("counter", "Access decisions by action and outcome"),
    "camerahub_authorization_refusals_total": ("counter", "Refused requests by action"),
    "camerahub_policy_version": ("gauge", "Version of the loaded access policy"),
    "camerahub_policy_reloads_total": ("counter", "Policy reloads"),
    "camerahub_camera_online": ("gauge", "1 if the camera answers"),
    "camerahub_camera_recording": ("gauge", "1 if the camera is being recorded"),
    "camerahub_camera_last_segment_age_seconds": ("gauge", "Age of the newest stored segment"),
    "camerahub_camera_recent_bytes": ("gauge", "Bytes stored over the last 5 minutes"),
    "camerahub_camera_bitrate_bps": ("gauge", "Recorded bitrate over the last 5 minutes"),
    "camerahub_camera_reconnects_total": ("counter", "Gaps (reconnects) in the camera's footage"),
    "camerahub_camera_clock_skew_seconds": ("gauge", "Camera clock minus ours at discovery"),
    "camerahub_recorder_up": ("gauge", "1 if the recorder's heartbeat is fresh"),
    "camerahub_recorder_heartbeat_age_seconds": ("gauge", "Seconds since the heartbeat"),
    "camerahub_recorder_cameras": ("gauge", "Cameras the recorder records"),
    "camerahub_spool_bytes": ("gauge", "Bytes in the recorder's spool (not yet uploaded)"),
    "camerahub_spool_segments": ("gauge", "Segments waiting in the recorder's spool"),
    "camerahub_spool_limit_bytes": ("gauge", "Spool size that raises the alarm"),
    "camerahub_upload_lag_seconds": ("gauge", "Age of the oldest segment not yet uploaded"),
    "camerahub_uploaded_segments_total": ("counter", "Segments the recorder stored, indexed"),
    "camerahub_uploaded_bytes_total": ("counter", "Bytes the recorder stored and indexed"),
    "camerahub_discovery_findings": ("gauge", "Cameras with a discovery finding, by kind"),
    "camerahub_live_viewers": ("gauge", "Live viewers per watched camera"),
    "camerahub_live_sessions": ("gauge", "Camera sessions open for live view"),
    "camerahub_alarms_active": ("gauge", "Active alarms by kind"),
}


def _esc(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def series(name: str, rows: Iterable[tuple[dict[str, object], float | int | None]]) -> list[str]:
    """HELP, TYPE and one line per (labels, value); None values are left out."""
    kind, text = METRIC_NAMES[name]
    lines = [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
    for labels, value in rows:
        if value is None:
            continue
        inner = ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items())
        lines.append(f"{name}{{{inner}}} {value}" if inner else f"{name} {value}")
    return lines


class Metrics:
    """Counters of requests and access decisions; rendered on GET /metrics."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str]] = Counter()
        self.decisions: Counter[tuple[str, str]] = Counter()

    def request(self, method: str, status: int) -> None:
        """Count one finished HTTP request."""
        with self._lock:
            self.requests[(method, str(status))] += 1

    def decision(self, action: str, outcome: str) -> None:
        """Count one access decision (allow, deny, unauthenticated...)."""
        with self._lock:
            self.decisions[(action, outcome)] += 1

    def render(self, policy_version: int, policy_reloads: int,
               more: Iterable[str] = ()) -> str:
        """The exposition text (more: lines of the scrape-time gauges)."""
        with self._lock:
            requests, decisions = dict(self.requests), dict(self.decisions)
        refusals: Counter[str] = Counter()
        for (action, outcome), n in decisions.items():
            if outcome != "allow":
                refusals[action] += n
        lines = series("camerahub_http_requests_total",
                       [({"method": m, "status": s}, n) for (m, s), n in sorted(requests.items())])
        lines += series("camerahub_access_decisions_total",
                        [({"action": a, "decision": d}, n)
                         for (a, d), n in sorted(decisions.items())])
        lines += series("camerahub_authorization_refusals_total",
                        [({"action": a}, n) for a, n in sorted(refusals.items())])
        lines += series("camerahub_policy_version", [({}, policy_version)])
        lines += series("camerahub_policy_reloads_total", [({}, policy_reloads)])
        lines += list(more)
        return "\n".join(lines) + "\n"


class CountRequests:
    """ASGI middleware: count each response by method and status as its head goes out.

    Plain ASGI on purpose: Starlette's BaseHTTPMiddleware (@app.middleware) ends a streamed
    body cleanly when the stream raises, so a CSV export that failed half way reached the
    client as a complete 200. Passing messages straight through keeps the failure an
    aborted transfer.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                scope["app"].state.camerahub.metrics.request(scope["method"],
                                                             message["status"])
            await send(message)

        await self.app(scope, receive, counting_send)
