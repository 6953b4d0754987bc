"""A live wall's tiles on ONE WebSocket (/api/v1/live/wall.ws): each tile decided and audited
as its own live.ws would be, refused or cut alone, and hostile control messages answered
with a message and a close code, never a traceback. Real sockets, real simulated cameras."""

from __future__ import annotations

import functools
import json
import struct
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from camerahub.api import livesocket
from camerahub.api.livewall import MAX_MESSAGE, MAX_TILES
from camerahub.authz.grants import create_grant, revoke_grant
from camerahub.authz.tokens import issue_media_token
from camerahub.db import models as m
from camerahub.db.types import utcnow
from tests.support.live import decode_frames, rtsp_sessions, token
from tests.support.wait import wait_until

CAM, SIM = "hq-1f-koseki-02", "hq-002"
OTHER = "hq-1f-koseki-01"
HEADER = struct.Struct(">Hd")


@pytest.fixture(scope="module")
def base(live_app):
    return live_app[0].url


@functools.cache
def bearer(base, user):
    return token(base, user)


def media_token(base, user, camera):
    auth = {"Authorization": f"Bearer {bearer(base, user)}"}
    resp = httpx.post(f"{base}/api/v1/cameras/{camera}/media-token", headers=auth)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


class Wall:
    """One wall socket: per tile its start, init, frames and end; the socket's error."""

    def __init__(self, base):
        self.ws = connect(f"ws{base[4:]}/api/v1/live/wall.ws", open_timeout=30,
                          close_timeout=5, max_size=2**24).__enter__()
        self.start: dict[int, dict] = {}
        self.init: dict[int, bytes] = {}
        self.frames: dict[int, list[bytes]] = {}
        self.end: dict[int, dict] = {}
        self.other: list[dict] = []
        self.error = None
        self.closed = None

    def subscribe(self, tile, camera, tok, **extra):
        self.send({"type": "subscribe", "tile": tile, "camera": camera,
                   "access_token": tok, **extra})

    def send(self, message):
        self.ws.send(message if isinstance(message, str | bytes) else json.dumps(message))

    def read_until(self, done, timeout=60):
        """Read messages until done(self) or the socket closes."""
        while not done(self) and self.closed is None:
            try:
                msg = self.ws.recv(timeout=timeout)
            except ConnectionClosed as exc:
                self.closed = exc.rcvd
                break
            if isinstance(msg, str):
                data = json.loads(msg)
                kind = data["type"]
                if kind in ("start", "end"):
                    getattr(self, kind)[data["tile"]] = data
                elif kind == "error":
                    self.error = data
                else:
                    self.other.append(data)
                continue
            tile, stamp = HEADER.unpack_from(msg)
            if stamp == 0:
                self.init[tile] = msg[HEADER.size:]
            else:
                self.frames.setdefault(tile, []).append(msg[HEADER.size:])
        return self

    def playing(self, tile, frames):
        return len(self.frames.get(tile, [])) >= frames

    def close(self):
        self.ws.close()


def entries(live_app, camera, n):
    sessions = live_app[0].app.state.camerahub.sessions
    with sessions() as s:
        return list(s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "live",
                                                         m.AuditEntry.camera_id == camera)
                              .order_by(m.AuditEntry.seq.desc()).limit(n)))[::-1]


def live_grant(sessions, user="tokatsu-koseki"):
    now = utcnow()
    with sessions.begin() as s:
        return create_grant(s, user_id=user, camera_ids=[CAM], action="live",
                            footage_start=now - timedelta(minutes=1),
                            footage_end=now + timedelta(hours=1),
                            expires_at=now + timedelta(hours=1), created_by="user:kiki-sato")[0].id


def test_two_tiles_share_one_socket_each_from_a_keyframe_and_audited_alone(sim, base,
                                                                          live_app):
    wall = Wall(base)
    try:
        wall.subscribe(1, CAM, media_token(base, "kiki-sato", CAM))
        wall.subscribe(2, OTHER, media_token(base, "kiki-sato", OTHER))
        wall.read_until(lambda w: w.playing(1, 12) and w.playing(2, 12))
        for tile in (1, 2):
            assert wall.start[tile]["codec"].startswith("avc1.")
            frames = decode_frames(wall.init[tile] + b"".join(wall.frames[tile]))
            assert len(frames) == len(wall.frames[tile]) and frames[0].key_frame
        assert (wall.start[1]["camera"], wall.start[2]["camera"]) == (CAM, OTHER)
        assert rtsp_sessions(sim, SIM) == 1
        # leaving one tile ends its session only: the other keeps playing on the socket
        wall.send({"type": "unsubscribe", "tile": 1})
        wait_until(lambda: entries(live_app, CAM, 1)[0].detail.get("event") == "end", 30,
                   "the left tile's end entry")
        before = len(wall.frames[2])
        wall.read_until(lambda w: len(w.frames[2]) >= before + 5)
        assert wall.end == {} and wall.closed is None
    finally:
        wall.close()
    start, end = entries(live_app, CAM, 2)
    assert (start.decision, start.detail["event"], start.detail["tile"]) == ("allow", "start", 1)
    assert (end.decision, end.detail["event"], end.detail["session"]) == \
        ("allow", "end", start.detail["session"])
    assert end.detail["ended"] == "ended" and end.detail["frames"] >= 12
    wait_until(lambda: entries(live_app, OTHER, 1)[0].detail.get("event") == "end", 30,
               "the closed socket's tile ended too")


def test_a_refused_tile_is_told_alone_and_the_others_play_on(base, live_app):
    wall = Wall(base)
    try:
        wall.subscribe(1, CAM, media_token(base, "kiki-sato", CAM))
        # a manager without live view on this camera: its tile is refused, audited as deny
        wall.subscribe(2, CAM, media_token(base, "tokatsu-koseki", CAM),
                       reason="アラート確認のため")
        wall.read_until(lambda w: 2 in w.end and w.playing(1, 3))
        assert wall.end[2]["reason"] == "not-permitted" and 2 not in wall.init
        assert 1 not in wall.end and wall.closed is None
    finally:
        wall.close()
    wait_until(lambda: any(e.actor == "user:tokatsu-koseki" and e.decision == "deny"
                           for e in entries(live_app, CAM, 4)), 30, "the refusal's entry")


def test_a_revoked_grant_cuts_its_tile_within_5_s_and_not_the_others(base, live_app,
                                                                     monkeypatch):
    monkeypatch.setattr(livesocket, "RECHECK_S", 3600.0)  # only the push can cut it
    sessions = live_app[0].app.state.camerahub.sessions
    grant_id = live_grant(sessions)
    wall = Wall(base)
    try:
        wall.subscribe(1, CAM, media_token(base, "tokatsu-koseki", CAM),
                       reason="アラート確認のため")
        wall.subscribe(2, OTHER, media_token(base, "kiki-sato", OTHER))
        wall.read_until(lambda w: w.playing(1, 3) and w.playing(2, 3))
        with sessions.begin() as db:
            revoke_grant(db, grant_id, "user:kiki-sato")
        revoked = utcnow()
        wall.read_until(lambda w: 1 in w.end, timeout=10)
        assert wall.end[1]["reason"] == "not-permitted"
        assert (utcnow() - revoked).total_seconds() < 5
        before = len(wall.frames[2])
        wall.read_until(lambda w: len(w.frames[2]) >= before + 5)
        assert 2 not in wall.end and wall.closed is None
    finally:
        wall.close()
    wait_until(lambda: entries(live_app, CAM, 1)[0].detail.get("ended") == "not-permitted",
               30, "the cut tile's end entry")
    entry = entries(live_app, CAM, 1)[0]
    assert (entry.actor, entry.decision) == ("user:tokatsu-koseki", "deny")


def expired_token(live_app, user, camera):
    state = live_app[0].app.state.camerahub
    with state.sessions() as s:
        version = s.get(m.User, user).token_version
    return issue_media_token(state.settings.secret_key, user, version, camera,
                             utcnow() - timedelta(hours=1), timedelta(minutes=10))


def test_bad_tiles_are_refused_alone_with_a_reason(base, live_app):
    wall = Wall(base)
    tok = media_token(base, "kiki-sato", CAM)
    try:
        wall.subscribe(1, "no-such-camera", tok)  # the token is of another camera
        wall.subscribe(2, CAM, "forged." + tok[7:])
        wall.subscribe(3, CAM, expired_token(live_app, "kiki-sato", CAM))
        wall.subscribe(4, CAM, tok, profile="../etc")
        wall.send({"type": "subscribe", "tile": 5, "camera": ["x"], "access_token": tok})
        wall.subscribe(6, CAM, tok)
        wall.read_until(lambda w: len(w.end) == 5 and w.playing(6, 2))
        assert {t: e["reason"] for t, e in wall.end.items()} == {
            1: "unauthenticated", 2: "unauthenticated", 3: "unauthenticated", 4: "invalid",
            5: "invalid"}
        assert "Traceback" not in json.dumps(wall.end)
        assert wall.closed is None
    finally:
        wall.close()


def test_too_many_tiles_refuses_the_extra_ones_only(base):
    wall = Wall(base)
    tok = media_token(base, "kiki-sato", CAM)
    try:
        for tile in range(1, MAX_TILES + 2):
            wall.subscribe(tile, CAM, tok)
        wall.read_until(lambda w: MAX_TILES + 1 in w.end and w.playing(1, 2))
        assert wall.end[MAX_TILES + 1]["reason"] == "too-many"
        assert list(wall.end) == [MAX_TILES + 1] and wall.closed is None
    finally:
        wall.close()


@pytest.mark.parametrize(("message", "code", "reason"), [
    ("{not json", 4400, "invalid"),
    ("[1, 2]", 4400, "invalid"),
    (json.dumps({"type": "dance"}), 4400, "invalid"),
    (json.dumps({"type": ["subscribe"], "tile": 2}), 4400, "invalid"),
    (json.dumps({"type": "subscribe", "tile": 0}), 4400, "invalid"),
    (json.dumps({"type": "unsubscribe", "tile": "1; drop table"}), 4400, "invalid"),
    ("x" * (MAX_MESSAGE + 1), 1009, "too-big"),
    (b"\x00\x01binary", 4400, "invalid"),
])
def test_a_hostile_control_message_closes_the_socket_with_a_code_and_a_message(
        base, live_app, message, code, reason):
    wall = Wall(base)
    try:
        wall.subscribe(1, CAM, media_token(base, "kiki-sato", CAM))
        wall.read_until(lambda w: w.playing(1, 1))
        wall.send(message)
        wall.read_until(lambda w: False, timeout=30)
        assert wall.closed is not None and wall.closed.code == code
        assert wall.error["reason"] == reason and "Traceback" not in wall.error["message"]
    finally:
        wall.close()
    # the open tile ended with the socket, and its end was audited
    wait_until(lambda: entries(live_app, CAM, 1)[0].detail.get("event") == "end", 30,
               "the tile's end entry")


def test_a_tile_number_in_use_is_a_protocol_error(base):
    wall = Wall(base)
    tok = media_token(base, "kiki-sato", CAM)
    try:
        wall.subscribe(1, CAM, tok)
        wall.subscribe(1, CAM, tok)
        wall.read_until(lambda w: False, timeout=30)
        assert wall.closed.code == 4400 and "in use" in wall.error["message"]
    finally:
        wall.close()


def test_a_fresh_token_keeps_a_tile_and_another_cameras_token_ends_it(base):
    wall = Wall(base)
    try:
        wall.subscribe(7, CAM, media_token(base, "kiki-sato", CAM))
        wall.read_until(lambda w: w.playing(7, 2))
        wall.send({"type": "token", "tile": 7,
                   "access_token": media_token(base, "kiki-sato", CAM)})
        wall.read_until(lambda w: w.other)
        assert wall.other == [{"type": "token-ok", "tile": 7}]
        wall.send({"type": "token", "tile": 7,
                   "access_token": media_token(base, "kiki-sato", OTHER)})
        wall.read_until(lambda w: 7 in w.end)
        assert wall.end[7]["reason"] == "unauthenticated" and wall.closed is None
    finally:
        wall.close()
