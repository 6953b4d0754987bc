"""Live view over real HTTP against simulated cameras: one upstream, many viewers, access."""

from __future__ import annotations

import struct

import cv2
import httpx
import numpy as np
import pytest

from tests.support.deployment import make_app
from tests.support.live import (
    SUB_SIZE,
    UNREACHABLE,
    StreamReader,
    decode_frames,
    hub_of,
    rtsp_sessions,
    serving,
    token,
)
from tests.support.wait import wait_until

CAM, SIM = "hq-1f-koseki-01", "hq-001"
OTHER, OTHER_SIM = "hq-1f-koseki-03", "hq-003"
GAPPY, GAPPY_SIM = "hq-1f-koseki-02", "hq-002"  # the hole test's own camera
UNSEEN = "hq-2f-kazei-a-01"  # the tax division's room: not tokatsu-koseki's area
TIMEOUT = httpx.Timeout(60, connect=10)


@pytest.fixture(scope="module")
def base(live_app):
    return live_app[0].url


@pytest.fixture(scope="module")
def hub(live_app):
    return live_app[1]


@pytest.fixture(scope="module")
def bearer(base):
    tokens = {}

    def auth(user):
        if user not in tokens:
            tokens[user] = token(base, user)
        return {"Authorization": f"Bearer {tokens[user]}"}
    return auth


def media_token(base, bearer, camera, user="kiki-sato") -> str:
    resp = httpx.post(f"{base}/api/v1/cameras/{camera}/media-token", headers=bearer(user))
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


def idle(sim, hub, sim_id, camera):
    """Wait until the hub closed the camera's upstream (linger is 1 s in these tests)."""
    wait_until(lambda: rtsp_sessions(sim, sim_id) == 0 and camera not in hub.stats(), 60,
               f"{camera} upstream closed")


def test_two_viewers_share_one_upstream_and_decode(sim, base, hub, bearer):
    idle(sim, hub, SIM, CAM)
    opened = hub.upstreams_opened
    url = f"{base}/api/v1/cameras/{CAM}/live.mp4"
    with httpx.Client(timeout=TIMEOUT) as one, httpx.Client(timeout=TIMEOUT) as two, \
            one.stream("GET", url, headers=bearer("kiki-sato")) as first:
        assert first.status_code == 200 and first.headers["content-type"] == "video/mp4"
        a = StreamReader(first).start()
        a.wait_fragments(1)
        # the second viewer arrives with the channel running: it uses a media token
        params = {"access_token": media_token(base, bearer, CAM)}
        with two.stream("GET", url, params=params) as second:
            assert second.status_code == 200
            b = StreamReader(second).start()
            b.wait_fragments(3)
            a.wait_fragments(4)
            assert rtsp_sessions(sim, SIM) == 1, "one RTSP session whatever the viewers"
            assert hub.upstreams_opened == opened + 1
            assert hub.stats()[CAM]["viewers"] == 2
    for reader in (a, b):
        frames = decode_frames(reader.as_file())
        # one fragment per frame, every one of them decodes
        assert len(frames) == len(reader.fragments) >= 3
        assert (frames[0].width, frames[0].height) == SUB_SIZE
        assert frames[0].key_frame, "a viewer starts on a keyframe"
        assert reader.fragments[0].decode_time == 0, "each viewer's timeline starts at 0"
    idle(sim, hub, SIM, CAM)  # closed a while after the last viewer left


def test_a_slow_viewer_is_dropped_and_does_not_stall_another(sim, base, hub, bearer):
    url = f"{base}/api/v1/cameras/{OTHER}/live.mp4"
    with httpx.Client(timeout=TIMEOUT) as client, \
            client.stream("GET", url, headers=bearer("kiki-sato")) as resp:
        fast = StreamReader(resp).start()
        fast.wait_fragments(1)
        slow = hub.subscribe(OTHER)  # attached to the same channel, never reads
        try:
            wait_until(lambda: slow.closed, 60, "slow viewer dropped")
            assert "too slow" in slow.reason
            before = len(fast.fragments)
            fast.wait_fragments(before + 2)  # the fast one goes on
            assert rtsp_sessions(sim, OTHER_SIM) == 1
        finally:
            hub.unsubscribe(slow)
    idle(sim, hub, OTHER_SIM, OTHER)


def test_a_new_viewer_gets_init_and_the_latest_keyframe_fragment_at_once(sim, hub):
    first = hub.subscribe(CAM)
    try:
        init = first.get(60)
        assert isinstance(init, bytes) and b"moov" in init[:2000]
        assert first.get(60) is not None  # a fragment: the channel is producing
        late = hub.subscribe(CAM)
        try:
            assert late.get(1) == init  # already queued at subscribe time
            fragment = late.get(1)
            frames = decode_frames(init + fragment.rebased(fragment.decode_time))
            assert frames and frames[0].key_frame
        finally:
            hub.unsubscribe(late)
    finally:
        hub.unsubscribe(first)
    idle(sim, hub, SIM, CAM)


def _trun_duration(fragment) -> int:
    """The one sample's duration in a fragment's trun (version, flags, count, offset, then
    the duration)."""
    at = fragment.data.find(b"trun")
    assert at > 0, "a fragment without trun"
    return struct.unpack_from(">I", fragment.data, at + 16)[0]


def test_a_hole_in_the_stream_claims_no_time_past_the_next_frame(sim, hub):
    """A camera that sends nothing for a while, then goes on (frames lost, a pause): no
    fragment's time may run past the next frame's. The frame after a hole was given the
    hole as its duration, so the buffered video ended seconds ahead of every frame, and the
    live wall, which keeps near the newest buffered time, jumped there and showed nothing
    until real frames caught up with it."""
    def withheld() -> int:
        return max(profile["withheld"] for profile in sim.sent(GAPPY_SIM).values())

    viewer = hub.subscribe(GAPPY)
    try:
        assert isinstance(viewer.get(60), bytes)
        fragments = [viewer.get(60) for _ in range(5)]
        before = withheld()
        sim.set_faults(GAPPY_SIM, stall=True)
        try:  # about 3 s of the camera's own time with nothing sent
            wait_until(lambda: withheld() >= before + 45, 60, "frames held back by the stall")
        finally:
            sim.set_faults(GAPPY_SIM, stall=False)
        hole_at = None
        while hole_at is None or len(fragments) < hole_at + 5:
            fragment = viewer.get(60)
            assert fragment is not None, "the stream went on after the hole"
            fragments.append(fragment)
            if hole_at is None and len(fragments) < 400:
                steps = [b.decode_time - a.decode_time for a, b in zip(fragments, fragments[1:])]
                normal = sorted(steps)[len(steps) // 2]
                if steps[-1] > 10 * normal:
                    hole_at = len(fragments) - 1
            assert len(fragments) < 400, "no hole seen in 400 fragments"
    finally:
        hub.unsubscribe(viewer)
    for this, after in zip(fragments, fragments[1:]):
        assert this.decode_time + _trun_duration(this) <= after.decode_time, (
            f"a fragment at {this.decode_time} lasts {_trun_duration(this)}, past the next "
            f"frame at {after.decode_time}")
    idle(sim, hub, GAPPY_SIM, GAPPY)


@pytest.mark.parametrize(("user", "camera", "status"), [
    ("tokatsu-koseki", CAM, 403),  # a visible camera, but managers have no live view
    ("bucho-kumin", CAM, 403),
    ("tokatsu-koseki", UNSEEN, 404),  # outside the area: never revealed
    ("audit-watanabe", CAM, 404),
    ("ops-takahashi", CAM, 404),
])
def test_live_is_refused_without_permission(sim, base, bearer, hub, user, camera, status):
    resp = httpx.get(f"{base}/api/v1/cameras/{camera}/live.mp4", headers=bearer(user),
                     params={"reason": "月次点検のため"}, timeout=TIMEOUT)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert CAM not in hub.stats() or hub.stats()[CAM]["viewers"] == 0


def test_live_needs_credentials_for_that_camera(base, bearer):
    url = f"{base}/api/v1/cameras/{CAM}/live.mp4"
    assert httpx.get(url, timeout=TIMEOUT).status_code == 401
    other = media_token(base, bearer, OTHER)
    assert httpx.get(url, params={"access_token": other}, timeout=TIMEOUT).status_code == 401


def _jpeg_size(data: bytes) -> tuple[int, int]:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None, "not a JPEG"
    return img.shape[1], img.shape[0]


def test_snapshot_from_a_short_session_and_from_the_hub(sim, base, hub, bearer):
    url = f"{base}/api/v1/cameras/{CAM}/snapshot.jpg"
    idle(sim, hub, SIM, CAM)
    resp = httpx.get(url, headers=bearer("kiki-sato"), timeout=TIMEOUT)  # nobody watching
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/jpeg"
    assert _jpeg_size(resp.content) == SUB_SIZE
    viewer = hub.subscribe(CAM)
    try:
        viewer.get(60), viewer.get(60)  # init and a fragment: the hub has a keyframe
        sessions = rtsp_sessions(sim, SIM)
        resp = httpx.get(url, headers=bearer("kiki-suzuki"), timeout=TIMEOUT)
        assert resp.status_code == 200 and _jpeg_size(resp.content) == SUB_SIZE
        assert rtsp_sessions(sim, SIM) == sessions, "no second session for a snapshot"
        # a snapshot is the current picture, i.e. live view: not for a manager without live
        resp = httpx.get(url, headers=bearer("tokatsu-koseki"), timeout=TIMEOUT,
                         params={"reason": "アラート確認のため"})
        assert resp.status_code == 403
    finally:
        hub.unsubscribe(viewer)


def test_unreachable_camera_is_a_clear_503(base, bearer):
    for path in ("live.mp4", "snapshot.jpg"):
        resp = httpx.get(f"{base}/api/v1/cameras/{UNREACHABLE}/{path}",
                         headers=bearer("kiki-sato"), timeout=TIMEOUT)
        assert resp.status_code == 503, resp.text
        assert resp.json()["detail"] == f"camera {UNREACHABLE}: the camera is unreachable"


def test_offline_camera_mid_stream_ends_the_stream_and_the_next_viewer_gets_503(
        sim, base, bearer, hub):
    camera, sim_id = "hq-1f-koseki-04", "hq-004"
    url = f"{base}/api/v1/cameras/{camera}/live.mp4"
    try:
        with httpx.Client(timeout=TIMEOUT) as client, \
                client.stream("GET", url, headers=bearer("kiki-sato")) as resp:
            reader = StreamReader(resp).start()
            reader.wait_fragments(1)
            sim.set_faults(sim_id, offline=True)
            assert reader.ended.wait(60), "the stream ends when the camera goes away"
        wait_until(lambda: camera not in hub.stats(), 60, "channel closed")
        resp = httpx.get(url, headers=bearer("kiki-sato"), timeout=TIMEOUT)
        assert resp.status_code == 503 and camera in resp.json()["detail"]
    finally:
        sim.clear_faults(sim_id)


def test_the_live_stream_is_audited(base, bearer, live_app):
    from sqlalchemy import select

    from camerahub.db import models as m
    sessions = live_app[0].app.state.camerahub.sessions
    resp = httpx.get(f"{base}/api/v1/cameras/{CAM}/live.mp4", headers=bearer("tokatsu-koseki"),
                     timeout=TIMEOUT)
    assert resp.status_code == 403
    with sessions() as s:
        entry = s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "live")
                          .order_by(m.AuditEntry.seq.desc()).limit(1)).one()
    assert (entry.actor, entry.camera_id, entry.decision) == ("user:tokatsu-koseki", CAM, "deny")


def test_app_shutdown_closes_every_upstream(sim, live_app):
    """A viewer still watching when the server stops: the lifespan hook ends the upstream."""
    _, _, cfg = live_app
    app = make_app(str(live_app[0].app.state.camerahub.services.runtime.database_url), cfg)
    hub = hub_of(app)  # the default 30 s linger: only shutdown can close it soon
    with httpx.Client(timeout=TIMEOUT) as client:
        with serving(app) as server:
            url = f"{server.url}/api/v1/cameras/{OTHER}/live.mp4"
            auth = {"Authorization": f"Bearer {token(server.url, 'kiki-sato')}"}
            with client.stream("GET", url, headers=auth) as resp:
                reader = StreamReader(resp).start()
                reader.wait_fragments(1)
                server.server.should_exit = True  # stop while the stream is open
                assert reader.ended.wait(60)
        wait_until(lambda: rtsp_sessions(sim, OTHER_SIM) == 0 and not hub.stats(), 60,
                   "upstream closed on shutdown")


def test_a_camera_that_fails_before_the_viewer_is_attached_still_tells_it_why(monkeypatch):
    """Regression: the channel thread could fail (connection refused) before subscribe()
    attached the first viewer, which then waited out the first-item timeout. Starting the
    thread synchronously makes that interleaving certain."""
    import asyncio
    import threading

    from camerahub.live.channel import Channel, LiveOptions
    from camerahub.live.errors import LiveUnavailable
    from camerahub.live.hub import LiveHub

    def refused(camera_id: str) -> str:
        raise LiveUnavailable(f"camera {camera_id}: the camera is unreachable")

    def start_and_finish(self: Channel) -> None:
        threading.Thread.start(self._thread)
        self._thread.join(1)  # failed by then; a later finish only weakens the check

    monkeypatch.setattr(Channel, "start", start_and_finish)
    hub = LiveHub(refused, LiveOptions(first_item_timeout_s=30))

    async def first_item() -> str:
        viewer = hub.subscribe("cam-x", asyncio.get_running_loop())
        with pytest.raises(LiveUnavailable) as err:
            await asyncio.wait_for(hub.first(viewer), 10)
        return str(err.value)

    assert asyncio.run(first_item()) == "camera cam-x: the camera is unreachable"


def _frag(key: bool, at: float):
    from camerahub.live.boxes import Fragment
    return Fragment(b"x", 0, None, key, at)


def test_a_lagging_viewer_skips_to_the_next_keyframe_and_is_dropped_only_when_stuck():
    from camerahub.live.viewer import Viewer
    viewer = Viewer("cam", max_queue=100, max_lag_s=1.0, max_skips=2)
    viewer.prime(b"init", [_frag(True, 0.0)])
    assert viewer.get(1) == b"init"
    assert viewer.offer(_frag(False, 0.5))
    assert viewer.offer(_frag(False, 1.5))  # 1.5 s behind: queue emptied, waits for a key
    assert viewer.skipping and viewer.skipped == 3
    assert viewer.offer(_frag(False, 1.6)) and viewer.get(0.01) is None
    assert viewer.offer(_frag(True, 2.0))  # resumes on the keyframe
    got = viewer.get(1)
    assert got.keyframe and got.received == 2.0
    # a client that never reads again: skips twice more, then is dropped
    for at in (3.5, 5.0, 6.5):  # each 1.5 s behind the oldest queued: a skip
        viewer.offer(_frag(True, at))
    assert not viewer.offer(_frag(True, 8.0))
    assert viewer.closed and "too slow" in viewer.reason
