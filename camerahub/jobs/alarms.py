"""Alarms people receive: evaluated every `alarms.interval_s` beside the API, published to
MQTT (retained state topics and event topics), to signed webhooks, and kept for the UI.

Conditions (kind: subject): camera_offline and recording_stalled (a camera, after a
threshold), spool_over_limit and upload_lag (a recorder), clock_skew and camera_replaced (a
camera), disk_low (a path), audit_chain (the audit trail). Each is raised once when it
starts and cleared once when it recovers; the retained state topic always says where it
stands, so a subscriber that connects later learns the current state at once.

Topics, under the prefix (default `camerahub`):
    {prefix}/alarms/{kind}/{subject}   retained: {"active": true|false, ...}
    {prefix}/events/{kind}             each raise and clear: {"event": "raised"|"cleared", ...}
    {prefix}/cameras/{id}/state        retained: online, recording, why not, since

Webhooks get the same event JSON, signed: `X-Camerahub-Signature: sha256=HEX` is the
HMAC-SHA256 of `TIMESTAMP.BODY` with the webhook's secret (from secret_env/secret_file, never
the YAML), `X-Camerahub-Timestamp: TIMESTAMP` (Unix seconds); failed deliveries are retried
with backoff (up to WEBHOOK_ATTEMPTS) before the next one is sent, so a receiver sees them
in order, on a thread of their own so evaluation never waits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt_client
from sqlalchemy.orm import Session, sessionmaker

from camerahub.config import Config
from camerahub.config.secrets import SecretMissing, secret_ref
from camerahub.config.services import Mqtt, Webhook
from camerahub.db import models as m
from camerahub.db.types import utcnow
from camerahub.inventory import Thresholds, camera_states, recorders
from camerahub.inventory.overview import disk
from camerahub.retry import Backoff
from camerahub.times import wire_time

log = logging.getLogger(__name__)
KINDS = ("camera_offline", "recording_stalled", "spool_over_limit", "upload_lag", "clock_skew",
         "camera_replaced", "disk_low", "audit_chain")
SEVERITY = {"camera_offline": "high", "recording_stalled": "high", "spool_over_limit": "high",
            "upload_lag": "medium", "clock_skew": "medium", "camera_replaced": "high",
            "disk_low": "high", "audit_chain": "critical"}
WEBHOOK_ATTEMPTS = 6
DELIVERY_ERRORS = (OSError, httpx.HTTPError, ValueError, RuntimeError)


@dataclass
class Alarm:
    """One active condition."""

    kind: str
    subject: str
    message: str
    since: datetime
    camera_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.subject}"

    def as_json(self, active: bool = True) -> dict[str, Any]:
        return {"kind": self.kind, "subject": self.subject, "camera": self.camera_id,
                "severity": SEVERITY[self.kind], "message": self.message,
                "since": wire_time(self.since), "active": active, "data": self.data}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature header's value: sha256=HMAC(secret, TIMESTAMP + '.' + BODY)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class Publisher:
    """MQTT and webhooks. MQTT messages that could not be sent are kept and sent with the
    next batch (retained state is re-sent whole after an outage); webhooks retry alone."""

    def __init__(self, mqtt: Mqtt | None, webhooks: list[Webhook], timeout_s: float = 5.0,
                 backoff: Backoff = Backoff(initial_s=1.0, max_s=60.0)):
        self.mqtt = mqtt
        self.webhooks = webhooks
        self.timeout_s = timeout_s
        self.backoff = backoff
        self.prefix = (mqtt.topic_prefix if mqtt else "camerahub").rstrip("/")
        self._pending: dict[str, tuple[str, bool]] = {}  # topic -> (payload, retain), ordered
        self._events: list[tuple[str, str]] = []  # non-retained, in order
        self._hooks: queue.Queue[tuple[Webhook, bytes, int] | None] = queue.Queue()
        self._hook_thread: threading.Thread | None = None
        self._closing = threading.Event()
        self.failures = 0
        self.sent = 0

    def state(self, topic: str, payload: dict) -> None:
        """A retained state message (the latest per topic wins)."""
        self._pending.pop(topic, None)
        self._pending[topic] = (json.dumps(payload, ensure_ascii=False), True)

    def event(self, topic: str, payload: dict) -> None:
        """An event message, and the same to every webhook."""
        body = json.dumps(payload, ensure_ascii=False)
        self._events.append((topic, body))
        for hook in self.webhooks:  # one delivery thread: each hook gets them in order
            self._hooks.put((hook, body.encode(), 1))
        if self.webhooks and self._hook_thread is None:
            self._hook_thread = threading.Thread(target=self._deliver_loop,
                                                 name="alarm-webhooks", daemon=True)
            self._hook_thread.start()

    def flush(self) -> bool:
        """Send what is pending over MQTT; False (kept for next time) if the broker refused."""
        if self.mqtt is None:
            self._pending.clear()
            self._events.clear()
            return True
        msgs = [(t, p, r) for t, (p, r) in self._pending.items()]
        msgs += [(t, p, False) for t, p in self._events]
        if not msgs:
            return True
        try:
            self._publish(msgs)
        except DELIVERY_ERRORS as exc:
            self.failures += 1
            log.warning("alarms: MQTT %s:%s refused or unreachable (%s); kept %d messages",
                        self.mqtt.host, self.mqtt.port, exc, len(msgs))
            return False
        self.sent += len(msgs)
        self._pending.clear()
        self._events.clear()
        return True

    def _publish(self, msgs: list[tuple[str, str, bool]]) -> None:
        client = mqtt_client.Client(mqtt_client.CallbackAPIVersion.VERSION2)
        client.connect(self.mqtt.host, self.mqtt.port, keepalive=10)
        client.loop_start()
        try:
            infos = [client.publish(t, p, qos=1, retain=r) for t, p, r in msgs]
            for info in infos:
                info.wait_for_publish(self.timeout_s)
                if not info.is_published():
                    raise OSError("broker did not acknowledge the message in time")
        finally:
            client.disconnect()
            client.loop_stop()

    def close(self) -> None:
        """Stop the webhook thread; deliveries still queued are tried once more."""
        if self._hook_thread is not None:
            self._closing.set()  # queued deliveries get one more try each, no backoff
            self._hooks.put(None)
            self._hook_thread.join(30)

    def _deliver_loop(self) -> None:
        """Deliver in order: a failing delivery is retried (backoff) before the next one, so
        a receiver never sees a clear before its raise."""
        while True:
            item = self._hooks.get()
            if item is None:
                return
            hook, body, _ = item
            for attempt in range(1, WEBHOOK_ATTEMPTS + 1):
                if self._deliver(hook, body):
                    break
                if attempt == WEBHOOK_ATTEMPTS:
                    log.error("alarms: webhook %s failed %d times; given up", hook.url, attempt)
                elif self._closing.wait(self.backoff.delay(attempt)):
                    return

    def _deliver(self, hook: Webhook, body: bytes) -> bool:
        try:
            secret = secret_ref(hook.secret_env, hook.secret_file).resolve()
        except SecretMissing as exc:
            log.error("alarms: webhook %s not sent: %s", hook.url, exc)
            return False
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Camerahub-Timestamp": stamp,
                   "X-Camerahub-Signature": sign(secret, stamp, body)}
        try:
            resp = httpx.post(hook.url, content=body, headers=headers, timeout=self.timeout_s)
            resp.raise_for_status()
        except DELIVERY_ERRORS as exc:
            log.warning("alarms: webhook %s failed: %s", hook.url, type(exc).__name__)
            return False
        return True


class Alarms:
    """Evaluates the conditions, publishes raises and clears, keeps the active set."""

    def __init__(self, cfg: Config, sessions: sessionmaker[Session], data_dir: Path,
                 store_root: Path | None = None,
                 audit_broken: Callable[[], str | None] | None = None,
                 publisher: Publisher | None = None):
        self.cfg = cfg.alarms
        self.sessions = sessions
        self.paths = [data_dir] + ([store_root] if store_root is not None else [])
        self.audit_broken = audit_broken or (lambda: None)
        self.publisher = publisher or Publisher(self.cfg.mqtt or cfg.incidents.mqtt,
                                                self.cfg.webhooks)
        self.thresholds = Thresholds(segment_late_s=self.cfg.segment_late_s)
        self._active: dict[str, Alarm] = {}
        self._cameras: dict[str, dict] = {}
        self._first_seen: dict[str, datetime] = {}  # condition key -> when first observed
        self._lock = threading.Lock()
        self.stop_event = threading.Event()
        self.rounds = 0
        self.round_done = threading.Condition(self._lock)
        self.thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Evaluate now, then every interval_s, until stop()."""
        self.thread = threading.Thread(target=self._loop, name="alarms", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop evaluating; the retained topics keep the last state."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(30)
        self.publisher.close()

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - the database may be away; next round
                log.exception("alarms: evaluation failed")
            self.stop_event.wait(self.cfg.interval_s)

    def wait_rounds(self, n: int, timeout: float) -> bool:
        """Wait until n more rounds have finished (for tests and the demo)."""
        with self.round_done:
            target = self.rounds + n
            return self.round_done.wait_for(lambda: self.rounds >= target, timeout)

    def active(self) -> list[dict]:
        """The active alarms, most severe and oldest first."""
        order = {"critical": 0, "high": 1, "medium": 2}
        with self._lock:
            alarms = list(self._active.values())
        alarms.sort(key=lambda a: (order.get(SEVERITY[a.kind], 3), a.since, a.key))
        return [a.as_json() for a in alarms]

    # --- one round ---------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> tuple[list[Alarm], list[Alarm]]:
        """Evaluate every condition; publish what was raised or cleared. Returns both."""
        now = now or utcnow()
        with self.sessions() as s:
            states = camera_states(s, now=now, thresholds=self.thresholds)
            beats = recorders(s, now, self.thresholds)
        found = self._conditions(states, beats, now)
        with self._lock:
            raised = [a for k, a in found.items() if k not in self._active]
            cleared = [a for k, a in self._active.items() if k not in found]
            self._active = {k: self._active.get(k, a) for k, a in found.items()}
        self._publish_cameras(states)
        for alarm in raised:
            self._announce(alarm, "raised", now)
        for alarm in cleared:
            self._announce(alarm, "cleared", now)
        if raised or cleared:
            self._record(raised, cleared, now)
        self.publisher.flush()
        with self.round_done:
            self.rounds += 1
            self.round_done.notify_all()
        return raised, cleared

    def _held(self, key: str, now: datetime, since: datetime | None, after_s: float) -> bool:
        """Has condition `key` lasted after_s (from since, else from when first observed)?"""
        first = self._first_seen.setdefault(key, now)
        start = since if since is not None and since < first else first
        return (now - start).total_seconds() >= after_s

    def _conditions(self, states: dict[str, dict], beats: list[dict], now: datetime
                    ) -> dict[str, Alarm]:
        found: dict[str, Alarm] = {}
        seen: set[str] = set()
        down: list[str] = []

        def add(alarm: Alarm) -> None:
            found[alarm.key] = alarm

        for cid, st in states.items():
            since = _parse(st.get("since"))
            if st["online"] == "offline" and st["why_not"] != "disabled":
                key = f"camera_offline/{cid}"
                seen.add(key)
                if self._held(key, now, since, self.cfg.camera_offline_s):
                    add(Alarm("camera_offline", cid, f"{cid}: offline "
                              f"({st['why_not'] or 'not answering'})",
                              since or self._first_seen[key], cid,
                              {"why_not": st["why_not"]}))
            elif st["why_not"] == "recorder_down":
                down.append(cid)  # one alarm for all of them, below
            elif not st["recording"] and st["why_not"] not in ("disabled", None):
                key = f"recording_stalled/{cid}"
                seen.add(key)
                if self._held(key, now, since, self.cfg.recording_stalled_s):
                    add(Alarm("recording_stalled", cid, f"{cid}: not recording "
                              f"({st['why_not']})", since or self._first_seen[key], cid,
                              {"why_not": st["why_not"],
                               "last_segment_age_s": st["last_segment_age_s"]}))
            skew = st.get("clock_skew_s")
            if skew is not None and abs(skew) > self.cfg.clock_skew_s:
                add(Alarm("clock_skew", cid, f"{cid}: clock {skew:+.1f} s off", now, cid,
                          {"clock_skew_s": skew}))
            if "replaced" in st.get("findings", []):
                add(Alarm("camera_replaced", cid, f"{cid}: another device answers at its "
                          "address", now, cid))
        if down:  # no live recorder: one alarm, not one per camera (100 webhook posts)
            key = "recording_stalled/recorders"
            seen.add(key)
            if self._held(key, now, None, self.cfg.recording_stalled_s):
                add(Alarm("recording_stalled", "recorders", f"no recorder heartbeat: "
                          f"{len(down)} camera(s) not recorded", self._first_seen[key], None,
                          {"why_not": "recorder_down", "cameras": len(down)}))
        for beat in beats:
            if not beat["alive"]:
                continue
            rid = beat["id"]
            if beat.get("spool_bytes") and beat.get("spool_limit_bytes") and \
                    beat["spool_bytes"] > beat["spool_limit_bytes"]:
                add(Alarm("spool_over_limit", rid, f"recorder {rid}: spool holds "
                          f"{beat['spool_bytes'] >> 20} MiB (limit "
                          f"{beat['spool_limit_bytes'] >> 20} MiB)", now, None,
                          {"bytes": beat["spool_bytes"], "limit": beat["spool_limit_bytes"]}))
            lag = beat.get("upload_lag_s") or 0.0
            if lag > self.cfg.upload_lag_s:
                add(Alarm("upload_lag", rid, f"recorder {rid}: oldest segment waits "
                          f"{lag:.0f} s for upload", now, None, {"upload_lag_s": lag}))
            free, total = beat.get("spool_disk_free_bytes"), beat.get("spool_disk_total_bytes")
            if free is not None and total and free / total < self.cfg.disk_free_min_ratio:
                add(Alarm("disk_low", f"spool-{rid}", f"recorder {rid}: spool disk "
                          f"{free / total:.1%} free", now, None, {"free_bytes": free}))
        for path in self.paths:
            usage = disk(path)
            ratio = usage.get("free_ratio")
            if ratio is not None and ratio < self.cfg.disk_free_min_ratio:
                add(Alarm("disk_low", str(path), f"{path}: {ratio:.1%} free", now, None,
                          {"free_bytes": usage["free_bytes"]}))
        broken = self.audit_broken()
        if broken:
            add(Alarm("audit_chain", "audit", broken[:300], now))
        for key in list(self._first_seen):
            if key not in seen:
                del self._first_seen[key]
        return found

    def _publish_cameras(self, states: dict[str, dict]) -> None:
        prefix = self.publisher.prefix
        for cid, st in states.items():
            short = {"camera": cid, "online": st["online"], "recording": st["recording"],
                     "why_not": st["why_not"], "since": st["since"]}
            if self._cameras.get(cid) != short:
                self._cameras[cid] = short
                self.publisher.state(f"{prefix}/cameras/{cid}/state", short)

    def _announce(self, alarm: Alarm, event: str, now: datetime) -> None:
        prefix = self.publisher.prefix
        body = alarm.as_json(active=event == "raised")
        if event == "cleared":
            body["cleared_at"] = wire_time(now)
        self.publisher.state(f"{prefix}/alarms/{alarm.key}", body)
        self.publisher.event(f"{prefix}/events/{alarm.kind}", {"event": event, **body})
        log.log(logging.WARNING if event == "raised" else logging.INFO, "alarm %s: %s",
                event, alarm.message)

    def _record(self, raised: list[Alarm], cleared: list[Alarm], now: datetime) -> None:
        try:
            with self.sessions.begin() as s:
                for alarm, event in [(a, "raised") for a in raised] + \
                        [(a, "cleared") for a in cleared]:
                    s.add(m.Event(at=now, kind=f"alarm.{event}",
                                  severity=SEVERITY[alarm.kind] if event == "raised" else "info",
                                  camera_id=alarm.camera_id,
                                  message=f"{event}: {alarm.message}"[:1000],
                                  data={"kind": alarm.kind, "subject": alarm.subject}))
        except Exception:  # noqa: BLE001 - publishing matters more than the history row
            log.exception("alarms: could not record the events")


def _parse(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
