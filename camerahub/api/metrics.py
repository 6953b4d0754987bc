"""A few Prometheus counters kept in process (text exposition format 0.0.4)."""

from __future__ import annotations

import threading
from collections import Counter


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
