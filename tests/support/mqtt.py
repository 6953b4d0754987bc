"""A subscriber on the real Mosquitto at 127.0.0.1:1883 (skips the test when it is absent)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
import pytest

BROKER = ("127.0.0.1", 1883)


def unique_prefix() -> str:
    """A topic prefix of this test's own (tests on other workers share the broker)."""
    return f"camerahub-test-{uuid.uuid4().hex[:10]}"


@dataclass
class Subscriber:
    """Messages received: (topic, payload as JSON or None, retained flag), in order."""

    messages: list[tuple[str, dict | None, bool]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def on_message(self, _client, _userdata, msg) -> None:
        payload = json.loads(msg.payload) if msg.payload else None
        with self.changed:
            self.messages.append((msg.topic, payload, bool(msg.retain)))
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float = 60.0):
        """The first message (topic, payload, retained) matching predicate, waiting for it."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for message in self.messages:
                    if predicate(*message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no matching MQTT message in {timeout} s: "
                                         f"{[m[0] for m in self.messages][-20:]}")
                self.changed.wait(left)


@contextmanager
def subscribed(topic: str) -> Iterator[Subscriber]:
    """Subscribe to topic (wildcards allowed) until the block ends."""
    sub = Subscriber()
    ready = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = sub.on_message
    try:
        client.connect(*BROKER)
    except OSError as exc:
        pytest.skip(f"no MQTT broker at {BROKER[0]}:{BROKER[1]}: {exc}")
    client.loop_start()
    try:
        assert ready.wait(30), "MQTT subscription not acknowledged"
        yield sub
    finally:
        client.disconnect()
        client.loop_stop()


def clear_retained(prefix: str, topics: list[str]) -> None:
    """Remove the retained messages a test left on the broker (an empty retained message)."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    try:
        client.connect(*BROKER)
    except OSError:
        return
    client.loop_start()
    try:
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()
