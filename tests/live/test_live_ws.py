"""Live view over a WebSocket: per-frame fMP4, access decided on connect and again while it
runs (a grant revoked in this process cuts the session at once, one ended elsewhere at the
next periodic check), audited start and end."""

from __future__ import annotations

import functools
import json
import struct
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from camerahub.api import livesocket
from camerahub.authz import changes
from camerahub.authz.grants import create_grant, revoke_grant
from camerahub.db import models as m
from camerahub.db.types import utcnow
from tests.support.live import decode_frames, rtsp_sessions, token
from tests.support.wait import wait_until

CAM, SIM = "hq-1f-koseki-02", "hq-002"
UNSEEN = "hq-2f-kazei-a-01"
STAMP = struct.Struct(">d")


@pytest.fixture(scope="module")
def base(live_app):
    return live_app[0].url


@functools.cache
def bearer(base, user):
    """One sign-in per user for the module (password hashing is the costly part)."""
    return token(base, user)


def media_token(base, user, camera):
    auth = {"Authorization": f"Bearer {bearer(base, user)}"}
    resp = httpx.post(f"{base}/api/v1/cameras/{camera}/media-token", headers=auth)
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def ws_url(base, camera, tok=None, **params):
    query = "&".join(f"{k}={v}" for k, v in {"access_token": tok, **params}.items() if v)
    return f"ws{base[4:]}/api/v1/cameras/{camera}/live.ws" + (f"?{query}" if query else "")


class Session:
    """A WebSocket live client collecting the start message, init and fragments."""

    def __init__(self, url):
        self.ws = connect(url, open_timeout=30, close_timeout=5, max_size=2**24).__enter__()
        self.start = None
        self.init = None
        self.frames: list[tuple[float, bytes]] = []
        self.end = None

    def read(self, frames, timeout=60):
        """Read until `frames` fragments arrived or the server ended the session."""
        while len(self.frames) < frames and self.end is None:
            try:
                msg = self.ws.recv(timeout=timeout)
            except ConnectionClosed:
                break
            if isinstance(msg, str):
                data = json.loads(msg)
                if data["type"] == "start":
                    self.start = data
                elif data["type"] == "end":
                    self.end = data
            elif self.init is None:
                self.init = msg[STAMP.size:]
            else:
                self.frames.append((STAMP.unpack_from(msg)[0], msg[STAMP.size:]))
        return self

    def close(self):
        self.ws.close()


def last_entries(live_app, camera, n=2):
    sessions = live_app[0].app.state.camerahub.sessions
    with sessions() as s:
        return list(s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "live",
                                                         m.AuditEntry.camera_id == camera)
                              .order_by(m.AuditEntry.seq.desc()).limit(n)))[::-1]


def test_websocket_live_sends_a_frame_per_message_from_a_keyframe(sim, base, live_app):
    hub = live_app[1]
    tok = media_token(base, "kiki-sato", CAM)
    one = Session(ws_url(base, CAM, tok)).read(12)
    two = Session(ws_url(base, CAM, media_token(base, "kiki-suzuki", CAM))).read(12)
    try:
        for s in (one, two):
            assert s.start["codec"].startswith("avc1.") and s.end is None
            frames = decode_frames(s.init + b"".join(f for _, f in s.frames))
            assert len(frames) == len(s.frames) and frames[0].key_frame
        assert rtsp_sessions(sim, SIM) == 1
        assert all(stamp > 0 for stamp, _ in one.frames)
    finally:
        one.close(), two.close()
    wait_until(lambda: len(last_entries(live_app, CAM, 4)) == 4 and
               last_entries(live_app, CAM, 1)[0].detail.get("event") == "end", 30, "end entry")
    start, end = [e for e in last_entries(live_app, CAM, 4) if e.actor == "user:kiki-sato"]
    assert (start.decision, start.detail["event"]) == ("allow", "start")
    assert (end.decision, end.detail["event"], end.detail["session"]) == \
        ("allow", "end", start.detail["session"])
    assert end.detail["frames"] >= 12
    assert tok not in json.dumps(start.detail) + json.dumps(end.detail) + (start.client or "")
    # uvicorn logs a WebSocket's path with its query: the log redaction takes the token out
    from camerahub.redact import redact
    assert tok not in redact(f'127.0.0.1:5 - "WebSocket {ws_url(base, CAM, tok)[5:]}" [accepted]')
    assert hub.sent_latency_ms


@pytest.mark.parametrize(("user", "camera", "reason"), [
    (None, CAM, "unauthenticated"),
    ("tokatsu-koseki", CAM, "not-permitted"),  # a manager without live view
    ("tokatsu-koseki", UNSEEN, "not-found"),
])
def test_websocket_refusals_are_told_and_audited(base, live_app, user, camera, reason):
    tok = None
    if user is not None:
        # a media token of the manager's own camera used on this camera when not visible
        tok = media_token(base, user, CAM) if camera == UNSEEN else media_token(base, user, camera)
    s = Session(ws_url(base, camera, tok, reason="アラート確認のため")).read(1, timeout=30)
    assert s.end is not None and s.init is None
    expected = "unauthenticated" if camera == UNSEEN else reason
    assert s.end["reason"] == expected
    if user is not None:
        entry = last_entries(live_app, camera, 1)[0]
        assert (entry.actor, entry.decision) == (f"user:{user}", "deny")


def live_grant(sessions, user="tokatsu-koseki"):
    now = utcnow()
    with sessions.begin() as s:
        return create_grant(s, user_id=user, camera_ids=[CAM], action="live",
                            footage_start=now - timedelta(minutes=1),
                            footage_end=now + timedelta(hours=1),
                            expires_at=now + timedelta(hours=1), created_by="user:kiki-sato")[0].id


def test_a_revoked_live_grant_cuts_the_session_at_once_not_at_the_next_check(
        base, live_app, monkeypatch):
    # No periodic re-check during this test: only the pushed notification can cut it.
    monkeypatch.setattr(livesocket, "RECHECK_S", 3600.0)
    sessions = live_app[0].app.state.camerahub.sessions
    grant_id = live_grant(sessions)
    tok = media_token(base, "tokatsu-koseki", CAM)
    s = Session(ws_url(base, CAM, tok, reason="アラート確認のため")).read(3)
    assert s.end is None and len(s.frames) >= 3
    assert s.start["recheck_s"] == 3600.0
    other = live_grant(sessions, "tokatsu-zeimu")  # someone else's grant changes...
    with sessions.begin() as db:
        revoke_grant(db, other, "user:kiki-sato")
    s.read(len(s.frames) + 3)
    assert s.end is None, "another user's grant does not end this session"
    with sessions.begin() as db:
        revoke_grant(db, grant_id, "user:kiki-sato")
    revoked = utcnow()
    s.read(10**6, timeout=10)
    assert s.end is not None and s.end["reason"] == "not-permitted"
    assert (utcnow() - revoked).total_seconds() < 5
    wait_until(lambda: last_entries(live_app, CAM, 1)[0].detail.get("event") == "end", 30,
               "end entry")
    entry = last_entries(live_app, CAM, 1)[0]
    assert (entry.actor, entry.decision, entry.detail["ended"]) == \
        ("user:tokatsu-koseki", "deny", "not-permitted")
    s.close()


def test_a_grant_ended_elsewhere_is_cut_by_the_periodic_check_within_5_s(base, live_app):
    # another process (the CLI, another node) ends the grant: nothing is told to this one
    sessions = live_app[0].app.state.camerahub.sessions
    grant_id = live_grant(sessions)
    tok = media_token(base, "tokatsu-koseki", CAM)
    s = Session(ws_url(base, CAM, tok, reason="アラート確認のため")).read(3)
    assert s.end is None and len(s.frames) >= 3
    with sessions.begin() as db:
        db.execute(update(m.Grant).where(m.Grant.id == grant_id).values(revoked_at=utcnow()))
    revoked = utcnow()
    s.read(10**6, timeout=10)
    assert s.end is not None and s.end["reason"] == "not-permitted"
    assert (utcnow() - revoked).total_seconds() < 5
    s.close()


def test_between_changes_a_session_looks_at_one_shared_answer_not_a_full_decision(
        base, live_app, monkeypatch):
    monkeypatch.setattr(livesocket, "RECHECK_S", 0.1)
    decisions = []

    def counted(*args):
        decisions.append(args[-1].camera_id)
        return livesocket_recheck(*args)
    livesocket_recheck = livesocket.recheck_footage
    monkeypatch.setattr(livesocket, "recheck_footage", counted)
    watch = live_app[0].app.state.live_access_watch
    reads = watch.reads
    s = Session(ws_url(base, CAM, media_token(base, "kiki-sato", CAM))).read(25)
    assert s.end is None and len(s.frames) >= 25  # 2.5 s of video at least: ticks of 0.1 s
    s.close()
    assert watch.reads - reads >= 3, "the fingerprint was looked at"
    assert len(decisions) <= 2, "the first tick decides in full, then nothing changed"


def test_a_users_sessions_revoked_elsewhere_are_cut_by_the_periodic_look_within_5_s(
        base, live_app):
    # `camerahub user revoke` in another process: only the shared fingerprint notices it
    s = Session(ws_url(base, CAM, media_token(base, "kiki-suzuki", CAM))).read(3)
    assert s.end is None and len(s.frames) >= 3
    sessions = live_app[0].app.state.camerahub.sessions
    with sessions.begin() as db:
        db.execute(update(m.User).where(m.User.id == "kiki-suzuki")
                   .values(token_version=m.User.token_version + 1))
    bearer.cache_clear()
    revoked = utcnow()
    s.read(10**6, timeout=10)
    assert s.end is not None and s.end["reason"] == "unauthenticated"
    assert (utcnow() - revoked).total_seconds() < 5
    s.close()


def test_a_wall_gets_its_tokens_in_one_request_each_camera_audited(base, live_app):
    auth = {"Authorization": f"Bearer {bearer(base, 'tokatsu-koseki')}"}
    asked = [CAM, UNSEEN, CAM, "no-such-camera"]
    resp = httpx.post(f"{base}/api/v1/live/media-tokens", headers=auth,
                      json={"cameras": asked})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body["tokens"]) == {CAM}  # the manager sees the koseki cameras only
    assert body["refused"] == {UNSEEN: "not-found", "no-such-camera": "not-found"}
    sessions = live_app[0].app.state.camerahub.sessions
    with sessions() as s:
        entries = list(s.scalars(select(m.AuditEntry)
                                 .where(m.AuditEntry.action == "media-token")
                                 .order_by(m.AuditEntry.seq.desc()).limit(3)))[::-1]
    assert [(e.camera_id, e.decision, e.actor) for e in entries] == [
        (CAM, "allow", "user:tokatsu-koseki"), (UNSEEN, "deny", "user:tokatsu-koseki"),
        ("no-such-camera", "deny", "user:tokatsu-koseki")]
    # the token is the single route's: decided on that camera's live view like any other
    tok = body["tokens"][CAM]["access_token"]
    refused = Session(ws_url(base, CAM, tok)).read(1, timeout=30)
    assert refused.end["reason"] == "not-permitted"  # a manager has no live view here
    too_many = httpx.post(f"{base}/api/v1/live/media-tokens", headers=auth,
                          json={"cameras": [CAM] * 37})
    assert too_many.status_code == 422
    assert httpx.post(f"{base}/api/v1/live/media-tokens",
                      json={"cameras": [CAM]}).status_code == 401


def test_a_crisis_managers_wall_tokens_open_the_upstreams_before_the_sockets(
        sim, base, live_app):
    hub = live_app[1]
    wait_until(lambda: rtsp_sessions(sim, SIM) == 0 and CAM not in hub.stats(), 60,
               "the camera idle")
    opened = hub.upstreams_opened
    auth = {"Authorization": f"Bearer {bearer(base, 'kiki-sato')}"}
    resp = httpx.post(f"{base}/api/v1/live/media-tokens", headers=auth,
                      json={"cameras": [CAM]})
    assert resp.status_code == 200, resp.text
    # no viewer yet: the upstream opens and waits (its reservation outlasts the 1 s linger)
    wait_until(lambda: hub.stats().get(CAM, {}).get("fragments", 0) >= 12, 60,
               "the prepared upstream reads the camera")
    assert hub.stats()[CAM]["viewers"] == 0
    s = Session(ws_url(base, CAM, resp.json()["tokens"][CAM]["access_token"])).read(1)
    try:
        # the tile starts from the waiting GOP: its first frames come at once, a keyframe first
        assert s.end is None and s.init is not None
        assert decode_frames(s.init + s.frames[0][1])[0].key_frame
        assert hub.upstreams_opened == opened + 1 and rtsp_sessions(sim, SIM) == 1
    finally:
        s.close()


def test_access_changes_are_told_after_the_commit_only(live_app):
    sessions = live_app[0].app.state.camerahub.sessions
    told = []
    unsubscribe = changes.subscribe(told.append)
    try:
        grant_id = live_grant(sessions)
        assert told == [frozenset({"tokatsu-koseki"})]
        with pytest.raises(RuntimeError), sessions.begin() as db:
            revoke_grant(db, grant_id, "user:kiki-sato")
            assert len(told) == 1, "not before the commit"
            raise RuntimeError("rolled back")
        assert len(told) == 1, "a rolled-back revocation is not news"
        with sessions.begin() as db:
            revoke_grant(db, grant_id, "user:kiki-sato")
        assert told[-1] == frozenset({"tokatsu-koseki"})
    finally:
        unsubscribe()


def test_a_bad_profile_is_refused_with_a_message(base):
    tok = media_token(base, "kiki-sato", CAM)
    s = Session(ws_url(base, CAM, tok, profile="../etc")).read(1, timeout=30)
    assert s.end["reason"] == "invalid"


def test_a_fresh_token_keeps_the_session_and_another_cameras_token_ends_it(base):
    s = Session(ws_url(base, CAM, media_token(base, "kiki-sato", CAM))).read(2)
    try:
        s.ws.send(json.dumps({"type": "token",
                              "access_token": media_token(base, "kiki-sato", CAM)}))
        while True:  # fragments keep coming; the answer is among them
            msg = s.ws.recv(timeout=30)
            if isinstance(msg, str):
                assert json.loads(msg) == {"type": "token-ok"}
                break
        other = media_token(base, "kiki-sato", "hq-1f-koseki-01")
        s.ws.send(json.dumps({"type": "token", "access_token": other}))
        s.read(10**6, timeout=30)
        assert s.end["reason"] == "unauthenticated"
    finally:
        s.close()


def test_a_client_message_that_is_not_a_token_ends_the_session(base):
    s = Session(ws_url(base, CAM, media_token(base, "kiki-sato", CAM))).read(1)
    s.ws.send("x" * 10_000)
    s.read(10**6, timeout=30)
    assert s.end["reason"] == "invalid"
    s.close()
