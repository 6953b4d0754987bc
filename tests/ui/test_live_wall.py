"""The live wall in a real browser: 16 tiles over WebSockets and MSE all play; a manager with
a live grant sees only that camera of their area, and revoking the grant stops the tile."""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

import pytest
import yaml
from sqlalchemy import select

from camerahub.authz.grants import create_grant, revoke_grant
from camerahub.db import models as m
from camerahub.db.types import utcnow
from tests.support.deployment import NAKANO, make_app
from tests.support.live import deploy_for, rtsp_sessions, serving
from tests.support.simulators import running_simulator

pytest.importorskip("selenium")
from tests.ui.test_ui import css, shot, sign_in, wait  # noqa: E402

SUBNET = 85  # 127.W.85.x: this module's own cameras
TILES = 16
GRANTED = "hq-1f-koseki-02"  # in tokatsu-koseki's area (1階 戸籍執務室)


def first_cameras(n: int) -> list[str]:
    """The cameras a crisis-management wall shows first (list order: site, then id)."""
    cams = yaml.safe_load(NAKANO.read_text(encoding="utf-8"))["cameras"]
    return [c["id"] for c in sorted(cams, key=lambda c: (c["site"], c["id"]))][:n]


WALL = first_cameras(TILES)
SIMS = {cam: f"hq-{i + 1:03d}" for i, cam in enumerate(WALL)}


@pytest.fixture(scope="module")
def wall_server(tmp_path_factory):
    work = tmp_path_factory.mktemp("wall")
    with pytest.MonkeyPatch.context() as mp, \
            running_simulator(cameras=TILES, hq=TILES, subnet=SUBNET) as sim:
        mp.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")
        url = f"sqlite:///{work / 'db.sqlite'}"
        cfg = deploy_for(sim, url, SIMS)
        app = make_app(url, cfg, data_dir=work)
        with serving(app) as server:
            yield server, sim


TILE_STATE = """
return [...document.querySelectorAll('#live-grid video')].map((v) => [
  v.dataset.camera, v.dataset.state, v.readyState, v.currentTime,
  Number(v.dataset.firstPictureAt || 0), Number(v.dataset.latencyMs || 0)]);
"""
MARKS = """
return [...document.querySelectorAll('#live-grid video')].map((v) => v.liveMarks || {});
"""
STEPS = ("start", "token", "source", "socket", "started", "init", "frame", "picture")
HUB_STEPS = ("url", "open", "init", "keyframe")


def p50_max(values: list[float]) -> str:
    return f"{statistics.median(values):.0f}/{max(values):.0f}" if values else "-"


def startup_breakdown(browser, hub) -> str:
    """Where the tiles' first pictures spent their time: each step's p50/max in ms since the
    page opened (browser), and since each upstream's start (hub)."""
    marks = browser.execute_script(MARKS)
    page = " ".join(f"{step} {p50_max([m[step] for m in marks if step in m])}"
                    for step in STEPS)
    origin = browser.execute_script("return performance.timeOrigin")  # ms since the epoch
    stats = list(hub.stats().values())
    began = p50_max([s["started_at"] * 1000 - origin for s in stats])
    timings = [s["timings"] for s in stats]
    upstream = " ".join(f"{step} {p50_max([t[step] * 1000 for t in timings if step in t])}"
                        for step in HUB_STEPS)
    return (f"page (ms since it opened, p50/max): {page}; upstreams began {began} ms after "
            f"the page opened, then (ms since): {upstream}")


def test_crisis_management_opens_a_16_tile_wall_and_every_tile_plays(browser, wall_server,
                                                                      shots):
    server, sim = wall_server
    sign_in(browser, server.url, "kiki-sato")
    browser.get("about:blank")  # the wall opens as a fresh page load (the sign-in stays)
    opened = time.monotonic()
    browser.get(f"{server.url}/#/live")
    wait(browser, lambda d: len(css(d, "#live-grid video")) == TILES)
    assert [v.get_attribute("data-camera") for v in css(browser, "#live-grid video")] == WALL
    first = wait(browser, lambda d: (s := d.execute_script(TILE_STATE)) and
                 all(t[1] == "playing" and t[2] >= 2 for t in s) and s)
    all_playing_s = time.monotonic() - opened
    # every tile's video time advances
    wait(browser, lambda d: all(now[3] > before[3] for now, before in
                                zip(d.execute_script(TILE_STATE), first, strict=True)))
    wait(browser, lambda d: all(t[5] > 0 for t in d.execute_script(TILE_STATE)))
    states = browser.execute_script(TILE_STATE)
    shot(browser, shots, "live-wall-16")
    hub = server.app.state.camerahub.live
    # One upstream per camera: the hub holds one channel per wall camera and each simulated
    # camera serves one RTSP session. (A count of every upstream ever opened also counts
    # the ones the first page load prepared and a loaded machine let lapse.)
    opened_at = {cam: stat["started_at"] for cam, stat in hub.stats().items() if "@" not in cam}
    assert sorted(opened_at) == sorted(WALL), "one upstream per camera"
    assert all(rtsp_sessions(sim, sim_id) == 1 for sim_id in SIMS.values())
    firsts = sorted(t[4] for t in states)
    delays = [t[5] for t in states]
    print(f"16-tile wall: all playing {all_playing_s:.2f} s after opening (polled); first "
          f"picture per tile since the page opened p50 {statistics.median(firsts):.0f} ms, "
          f"max {firsts[-1]:.0f} ms; hub-receive-to-display p50 "
          f"{statistics.median(delays):.0f} ms, max {max(delays):.0f} ms")
    print(startup_breakdown(browser, hub))
    # a double-click enlarges a tile to the main stream; again goes back to the wall
    css(browser, "#live-grid figure")[0].click()
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(browser).double_click(css(browser, "#live-grid figure")[0]).perform()
    wait(browser, lambda d: len(css(d, "#live-grid video")) == 1)
    wait(browser, lambda d: d.execute_script(TILE_STATE)[0][1] == "playing")
    assert f"{WALL[0]}@main" in hub.stats()
    shot(browser, shots, "live-wall-enlarged")
    ActionChains(browser).double_click(css(browser, "#live-grid figure")[0]).perform()
    wait(browser, lambda d: len(css(d, "#live-grid video")) == TILES)
    wait(browser, lambda d: all(t[1] == "playing" for t in d.execute_script(TILE_STATE)))
    back = {cam: stat["started_at"] for cam, stat in hub.stats().items() if "@" not in cam}
    assert back == opened_at, "back on the wall: the sub upstreams were reused"


def test_a_manager_with_a_live_grant_sees_only_it_and_revoking_stops_the_tile(
        browser, wall_server, shots):
    server, _ = wall_server
    sessions = server.app.state.camerahub.sessions
    now = utcnow()
    with sessions.begin() as s:
        grant = create_grant(s, user_id="tokatsu-koseki", camera_ids=[GRANTED], action="live",
                             footage_start=now - timedelta(minutes=1),
                             footage_end=now + timedelta(hours=1),
                             expires_at=now + timedelta(hours=1),
                             created_by="user:kiki-sato")[0].id
    sign_in(browser, server.url, "tokatsu-koseki")
    browser.get(f"{server.url}/#/live")
    wait(browser, lambda d: (s := d.execute_script(TILE_STATE)) and s[0][1] == "playing")
    assert [t[0] for t in browser.execute_script(TILE_STATE)] == [GRANTED]
    with sessions.begin() as s:
        revoke_grant(s, grant, "user:kiki-sato")
    revoked = time.monotonic()
    wait(browser, lambda d: d.execute_script(TILE_STATE)[0][1] == "denied")
    print(f"tile stopped {time.monotonic() - revoked:.2f} s after the grant was revoked "
          "(pushed to the live session when the grant changes)")
    figure = css(browser, "#live-grid figure")[0]
    assert figure.get_attribute("data-end-reason") == "not-permitted"
    assert "閲覧権限が終了" in figure.text
    shot(browser, shots, "live-wall-grant-revoked")


def live_starts(server) -> list:
    """The live sessions' start entries, oldest first."""
    with server.app.state.camerahub.sessions() as s:
        entries = s.scalars(select(m.AuditEntry).where(m.AuditEntry.action == "live")
                            .order_by(m.AuditEntry.seq))
        return [e for e in entries if e.detail.get("event") == "start"]


def test_a_saved_view_filters_by_floor_and_cycles_pages(browser, wall_server, shots):
    from selenium.webdriver.support.ui import Select
    server, _ = wall_server
    sign_in(browser, server.url, "kiki-sato")
    browser.get(f"{server.url}/#/live")
    wait(browser, lambda d: css(d, "select[name=floor] option[value='1']"))
    Select(css(browser, "select[name=site]")[0]).select_by_value("hq")
    Select(css(browser, "select[name=floor]")[0]).select_by_value("1")
    Select(css(browser, "select[name=layout]")[0]).select_by_value("4")
    Select(css(browser, "select[name=cycle]")[0]).select_by_value("10")
    floor1 = [c for c in WALL if c.startswith("hq-1f-")]
    wait(browser, lambda d: [t[0] for t in d.execute_script(TILE_STATE)] == floor1[:4])
    css(browser, "input[name=view-name]")[0].send_keys("本庁舎1階")
    [b for b in css(browser, "button") if b.text == "この表示を保存"][0].click()
    wait(browser, lambda d: css(d, "select[name=view] option[value='本庁舎1階']"))
    browser.get(f"{server.url}/#/cameras")
    browser.get(f"{server.url}/#/live")  # a fresh page: the view comes from the server
    wait(browser, lambda d: css(d, "select[name=view] option[value='本庁舎1階']"))
    Select(css(browser, "select[name=view]")[0]).select_by_value("本庁舎1階")
    wait(browser, lambda d: [t[0] for t in d.execute_script(TILE_STATE)] == floor1[:4])
    assert css(browser, "select[name=floor]")[0].get_attribute("value") == "1"
    # the sequence moves to the next page of floor 1 by itself (10 s)
    wait(browser, lambda d: [t[0] for t in d.execute_script(TILE_STATE)] == floor1[4:8])
    # both pages' tiles came over the page's one wall socket (each camera's latest start)
    latest = {e.camera_id: e for e in live_starts(server)}
    assert len({latest[cam].detail["wall"] for cam in floor1[:8]}) == 1
    shot(browser, shots, "live-wall-saved-view")
