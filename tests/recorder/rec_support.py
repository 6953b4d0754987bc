"""Support for recorder tests: moto on loopback, a deployment for simulated cameras, waits."""

from __future__ import annotations

import socket
import time
import uuid

from moto.server import ThreadedMotoServer

from camerahub.storage.s3store import S3Settings, make_client

SUBNET = 61  # 127.0.61.x: this folder's own cameras


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Moto:
    """moto's S3 server on loopback that can be stopped and started again on its port."""

    def __init__(self):
        self.port = free_port()
        self.server = None

    def start(self):
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        return self

    def stop(self):
        if self.server:
            self.server.stop()
            self.server = None

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def bucket(self, object_lock=False) -> str:
        name = f"rec-{uuid.uuid4().hex[:10]}"
        client = make_client(S3Settings(bucket=name, endpoint_url=self.endpoint, path_style=True))
        client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=object_lock)
        return name

    def client(self, bucket):
        return make_client(S3Settings(bucket=bucket, endpoint_url=self.endpoint, path_style=True))




def deployment(sim, storage: dict, tmp_path, **recorder) -> dict:
    """A config for the simulator's cameras, with the given storage section."""
    hq, fac = sim.cameras[0], sim.cameras[1]
    return {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"},
                  {"id": "fac", "name": "施設", "kind": "facility"}],
        "org": {"departments": [{"id": "kumin", "name": "区民部", "divisions": [
            {"id": "koseki", "name": "戸籍住民分野", "rooms": [
                {"id": "room-a", "name": "A", "site": "hq"},
                {"id": "room-b", "name": "B", "site": "fac"}]}]}]},
        "credentials": [{"id": "cam", "username": "admin",
                         "password_env": "CAMERAHUB_CAMERA_PASSWORD"}],
        "defaults": {"port": sim.options.http_port, "credential": "cam"},
        "cameras": [
            {"id": "cam-a", "name": "A", "site": "hq", "room": "room-a", "address": hq.address},
            {"id": "cam-b", "name": "B", "site": "fac", "room": "room-b", "address": fac.address}],
        "storage": storage,
        "recorder": {"segment_seconds": 4, "read_timeout_s": 5, "reconnect_min_s": 0.5,
                     "reconnect_max_s": 2, **recorder},
        "data_dir": str(tmp_path / "data"),
    }


def wait_for(predicate, timeout=120.0, interval=0.25):
    """Poll until predicate() is truthy; fail the test with a clear message on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s: {predicate.__doc__ or predicate}")
