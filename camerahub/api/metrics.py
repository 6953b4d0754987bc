"""A few Prometheus counters kept in process (text exposition format 0.0.4)."""

from __future__ import annotations

import threading
from collections import Counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send


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

    def render(self, policy_version: int, policy_reloads: int) -> str:
        """The exposition text."""
        lines = ["# TYPE camerahub_http_requests_total counter"]
        lines += [f'camerahub_http_requests_total{{method="{m}",status="{s}"}} {n}'
                  for (m, s), n in sorted(self.requests.items())]
        lines.append("# TYPE camerahub_access_decisions_total counter")
        lines += [f'camerahub_access_decisions_total{{action="{a}",decision="{d}"}} {n}'
                  for (a, d), n in sorted(self.decisions.items())]
        lines += ["# TYPE camerahub_policy_version gauge",
                  f"camerahub_policy_version {policy_version}",
                  "# TYPE camerahub_policy_reloads_total counter",
                  f"camerahub_policy_reloads_total {policy_reloads}"]
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
