"""Incident notifications: MQTT topics on the broker and webhooks; failures never block."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import paho.mqtt.client as mqtt_client

from camerahub.config.services import Incidents as IncidentSettings

log = logging.getLogger(__name__)
# Connection-level failures of either channel; anything else is a bug and should surface.
DELIVERY_ERRORS = (OSError, httpx.HTTPError, ValueError, RuntimeError)


@dataclass
class Delivery:
    """What was sent where, and what failed (for an event and the audit log)."""

    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Notifier:
    """Sends incident messages to MQTT (per incident and per recipient) and webhooks."""

    def __init__(self, settings: IncidentSettings, timeout_s: float = 5.0):
        self.settings = settings
        self.timeout_s = timeout_s

    def incident(self, event: str, payload: dict[str, Any],
                 recipients: Iterable[str]) -> Delivery:
        """Announce an incident event to its recipients on every configured channel."""
        body = {"event": event, **payload, "recipients": sorted(set(recipients))}
        out = Delivery()
        if self.settings.mqtt is not None:
            self._mqtt(body, out)
        for url in self.settings.webhooks:
            self._webhook(url, body, out)
        return out

    def _mqtt(self, body: dict[str, Any], out: Delivery) -> None:
        mqtt = self.settings.mqtt
        prefix = mqtt.topic_prefix.rstrip("/")
        data = json.dumps(body, ensure_ascii=False, default=str)
        msgs = [{"topic": f"{prefix}/incidents/{body['incident_id']}", "payload": data,
                 "qos": 1}]
        msgs += [{"topic": f"{prefix}/users/{u}/incidents", "payload": data, "qos": 1}
                 for u in body["recipients"]]
        try:
            self._publish(mqtt.host, mqtt.port, msgs)
            out.sent.append(f"mqtt://{mqtt.host}:{mqtt.port}")
        except DELIVERY_ERRORS as exc:
            log.warning("MQTT notification to %s:%s failed: %s", mqtt.host, mqtt.port, exc)
            out.failed.append(f"mqtt://{mqtt.host}:{mqtt.port}")

    def _publish(self, host: str, port: int, msgs: list[dict]) -> None:
        """Publish with QoS 1 and wait for the broker's acknowledgements, then disconnect."""
        client = mqtt_client.Client(mqtt_client.CallbackAPIVersion.VERSION2)
        client.connect(host, port, keepalive=10)
        client.loop_start()
        try:
            infos = [client.publish(m["topic"], m["payload"], qos=m["qos"]) for m in msgs]
            for info in infos:
                info.wait_for_publish(self.timeout_s)
                if not info.is_published():
                    raise OSError("broker did not acknowledge the message in time")
        finally:
            client.disconnect()
            client.loop_stop()

    def _webhook(self, url: str, body: dict[str, Any], out: Delivery) -> None:
        try:
            resp = httpx.post(url, json=json.loads(json.dumps(body, default=str)),
                              timeout=self.timeout_s)
            resp.raise_for_status()
            out.sent.append(url)
        except DELIVERY_ERRORS as exc:
            log.warning("webhook %s failed: %s", url, exc)
            out.failed.append(url)
