"""Review screens in headless Chromium: the scrubbable timeline and the audit screen.

Its own app without simulated cameras (only recorded footage is looked at here): the example
deployment, one minute of real H.264 segments at T0 and index rows up to a few seconds ago.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from camerahub.authz import accounts
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.storage import FileStore
from tests.support.deployment import PASSWORD, deploy_example, make_app, set_all_passwords
from tests.support.live import serving
from tests.support.media import segments
from tests.support.ui import RECORDED_CAMERA, SIZE, T0
from tests.ui.test_ui import css, no_errors, shot, sign_in, video_plays, wait

pytest.importorskip("selenium")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

SECONDS = 60
SEGMENT_S = 4
REASON = "ログアラートの確認のため"


@pytest.fixture(scope="module")
def review_server(tmp_path_factory, h264):
    work = tmp_path_factory.mktemp("review-ui")
    url = f"sqlite:///{work / 'db.sqlite'}"
    cfg = deploy_example(url)
    set_all_passwords(url, cfg)
    app = make_app(url, cfg, data_dir=work)
    sessions = app.state.camerahub.sessions
    store = FileStore(work / "segments")
    source = h264(SECONDS, size=SIZE, profile="baseline")
    for info in segments(source, work / "spool", RECORDED_CAMERA, "hq", T0, seconds=SEGMENT_S):
        key = f"hq/{RECORDED_CAMERA}/{info.start_utc:%Y%m%dT%H%M%S.%f}.ts"
        store.put(key, info.path, info.sha256)
        with sessions.begin() as s:
            index.add_segment(s, camera_id=RECORDED_CAMERA, site_id="hq", start=info.start_utc,
                              end=info.end_utc, nbytes=info.bytes, sha256=info.sha256, key=key)
    # index rows (no bytes) for the last half hour, up to a few seconds ago: today's view
    now = datetime.now(UTC).replace(microsecond=0)
    with sessions.begin() as s:
        for i in range(180):
            lo = now - timedelta(seconds=10 * (180 - i) + 5)
            index.add_segment(s, camera_id=RECORDED_CAMERA, site_id="hq", start=lo,
                              end=lo + timedelta(seconds=10), nbytes=1, sha256="0" * 64,
                              key=f"hq/{RECORDED_CAMERA}/today-{i}.ts")
    with sessions.begin() as s:
        _, key = accounts.create_api_key(s, "ui-log-analyzer", "alerts:log-analyzer")
    with serving(app) as server:
        alert = {"alert_id": "UI-1", "rule": "大量閲覧", "employee_id": "E1001",
                 "terminal_id": "T-HQ-1F-KOSEKI-01", "severity": "high",
                 "text": "短時間に多数の住民記録を閲覧",
                 "window": {"start": T0.isoformat(),
                            "end": (T0 + timedelta(seconds=SECONDS)).isoformat()}}
        resp = httpx.post(f"{server.url}/api/v1/alerts", json=alert,
                          headers={"X-API-Key": key}, timeout=30)
        assert resp.status_code == 202, resp.text
        server.app.state.review_incident = resp.json()["incident_id"]
        yield server


def _clock_ms(driver) -> int | None:
    value = css(driver, "#clock")[0].get_attribute("data-ms")
    return int(value) if value else None


def test_click_on_the_timeline_seeks_within_one_segment(browser, review_server, shots):
    base = review_server.url
    sign_in(browser, base, "tokatsu-koseki")
    start, end = T0 - timedelta(minutes=1), T0 + timedelta(minutes=5)
    browser.get(f"{base}/#/playback?camera={RECORDED_CAMERA}&start={start:%Y-%m-%dT%H:%M:%SZ}"
                f"&end={end:%Y-%m-%dT%H:%M:%SZ}&reason={REASON}")
    wait(browser, lambda d: css(d, "#timeline .span.seg"))
    no_errors(browser)
    # a 6-minute range opens the 10-minute zoom: 10:00-10:10 JST, minute ticks labelled
    assert "2026/11/20 10:00" in css(browser, ".window-caption")[0].text
    labels = [e.text for e in css(browser, ".tick.major") if e.text]
    assert labels[:3] == ["10:00", "10:01", "10:02"]
    bar = css(browser, "#timeline")[0]
    width = bar.size["width"]
    target = T0 + timedelta(seconds=30)
    fraction = (target - T0).total_seconds() / 600
    ActionChains(browser).move_to_element_with_offset(
        bar, round(width * fraction - width / 2), 0).click().perform()
    video_plays(browser, "#player")
    shown = _clock_ms(browser)
    clicked = target.timestamp() * 1000
    # one segment of the clicked time, plus one pixel of the bar and the play so far
    assert abs(shown - clicked) <= SEGMENT_S * 1000 + 600_000 / width + 3000, (shown, clicked)
    assert not css(browser, "#timeline .span.gap[data-cause=future]")
    shot(browser, shots, "review-timeline-10min")

    css(browser, "#fwd10")[0].click()
    wait(browser, lambda d: (_clock_ms(d) or 0) >= shown + 9000)
    css(browser, "#zoom-day")[0].click()
    wait(browser, lambda d: "00:00" in css(d, ".window-caption")[0].text)
    assert [e.text for e in css(browser, ".tick.major") if e.text][:2] == ["00:00", "03:00"]


def test_today_the_future_is_not_shown_as_missing(browser, review_server, shots):
    base = review_server.url
    sign_in(browser, base, "tokatsu-koseki")
    now = datetime.now(UTC)
    start, end = now - timedelta(minutes=40), now + timedelta(minutes=10)
    browser.get(f"{base}/#/playback?camera={RECORDED_CAMERA}&start={start:%Y-%m-%dT%H:%M:%SZ}"
                f"&end={end:%Y-%m-%dT%H:%M:%SZ}&reason={REASON}")
    wait(browser, lambda d: css(d, "#timeline .span.seg"))
    css(browser, "#zoom-day")[0].click()  # today, midnight to midnight in Tokyo
    wait(browser, lambda d: "00:00" in css(d, ".window-caption")[0].text
         and css(d, "#timeline .span.none[data-cause=future]"))
    spans = browser.execute_script("""
        return [...document.querySelectorAll('#timeline .span')].map((e) => ({
          kind: e.dataset.kind, cause: e.dataset.cause, left: parseFloat(e.style.left),
          image: getComputedStyle(e).backgroundImage}));""")
    future = [s for s in spans if s["cause"] == "future"]
    assert len(future) == 1 and future[0]["kind"] == "not_recorded"
    assert future[0]["image"] == "none"  # plain, not hatched like a gap
    assert spans[-1] == future[0]  # the day ends with the future, nothing after it
    assert all(s["left"] < future[0]["left"] for s in spans if s["kind"] == "gap")
    shot(browser, shots, "review-timeline-today")
    css(browser, "#lang")[0].click()
    wait(browser, lambda d: css(d, "#zoom-day") and css(d, "#zoom-day")[0].text == "24 hours"
         and css(d, ".window-caption")[0].text)
    caption = css(browser, ".window-caption")[0].text
    assert caption[:4].isdigit() and caption[4] == "-", caption  # ISO dates in English
    css(browser, "#lang")[0].click()
    wait(browser, lambda d: css(d, "#zoom-day")[0].text == "24時間")
    assert browser.find_element(By.TAG_NAME, "h1")


def test_an_auditor_filters_to_one_managers_logins(browser, review_server, shots):
    base = review_server.url
    for user in ("tokatsu-zeimu", "tokatsu-koseki"):  # zeimu's must be filtered out
        resp = httpx.post(f"{base}/api/v1/auth/token",
                          data={"username": user, "password": PASSWORD}, timeout=30)
        assert resp.status_code == 200
    sign_in(browser, base, "audit-watanabe")
    browser.get(f"{base}/#/audit")
    wait(browser, lambda d: css(d, "#audit-table tbody tr"))
    css(browser, "input[name=user]")[0].send_keys("tokatsu-koseki")
    Select(css(browser, "select[name=action]")[0]).select_by_value("auth")
    assert Select(css(browser, "select[name=action]")[0]).first_selected_option.text == \
        "サインイン関係"
    css(browser, "#audit-filter button[type=submit]")[0].click()
    actions = ("return [...document.querySelectorAll('#audit-table tbody [data-action]')]"
               ".map((e) => e.dataset.action)")
    wait(browser, lambda d: (found := d.execute_script(actions))
         and set(found) == {"auth.login"})
    rows = css(browser, "#audit-table tbody tr")
    assert len(rows) >= 1
    for row in rows:
        assert "戸籍住民分野 統括管理者" in row.text and "サインイン" in row.text
        assert "auth.login" not in row.text and "tokatsu-zeimu" not in row.text
    no_errors(browser)
    shot(browser, shots, "review-audit-logins")
    css(browser, "#summarise")[0].click()
    wait(browser, lambda d: css(d, "#audit-users"))
    assert "(unknown camera)" not in css(browser, "#audit-summary")[0].text
    shot(browser, shots, "review-audit-summary")


def test_a_manager_follows_the_alerts_incident_to_footage_without_typing_a_reason(
        browser, review_server, shots):
    base = review_server.url
    incident = review_server.app.state.review_incident
    with review_server.app.state.camerahub.sessions() as s:
        before = s.scalar(select(func.max(m.AuditEntry.seq)))
    sign_in(browser, base, "tokatsu-koseki")
    browser.get(f"{base}/#/incidents")
    link = f"a[href='#/incidents/{incident}']"
    wait(browser, lambda d: css(d, link))
    css(browser, link)[0].click()
    wait(browser, lambda d: css(d, "#workspace .ws-cell #ws-player-0-play")
         and css(d, "#workspace .span.seg"))
    facts = css(browser, "dl.facts")[0].text
    assert "1階 戸籍執務室" in facts and "戸籍住民分野 統括管理者" in facts
    assert "1階 戸籍執務室 カメラ1" in facts and "hq-1f-koseki" not in facts
    assert "高" in css(browser, "body")[0].text and "high" not in facts
    assert not css(browser, "input[name=reason]")  # nothing to type
    assert len(css(browser, "#workspace .ws-cell")) <= 4
    css(browser, "#ws-play-all")[0].click()
    cell = next(c for c in css(browser, "#workspace .ws-cell")
                if c.get_attribute("data-camera") == RECORDED_CAMERA)
    video_id = cell.find_element(By.CSS_SELECTOR, "video").get_attribute("id")
    video_plays(browser, f"#{video_id}")
    no_errors(browser)
    assert css(browser, "#to-reviewing") and not css(browser, "#to-closed")
    css(browser, "#note-text")[0].send_keys("端末を操作している場面")
    css(browser, "#add-bookmark")[0].click()
    wait(browser, lambda d: css(d, "#notes a.note-moment"))
    assert "端末を操作している場面" in css(browser, "#notes")[0].text
    shot(browser, shots, "review-incident-workspace")
    with review_server.app.state.camerahub.sessions() as s:
        looks = s.scalars(select(m.AuditEntry).where(
            m.AuditEntry.seq > before, m.AuditEntry.action == "playback",
            m.AuditEntry.camera_id == RECORDED_CAMERA,
            m.AuditEntry.actor == "user:tokatsu-koseki")).all()
    assert looks and all(e.decision == "allow" for e in looks)
    assert all(e.reason.startswith(f"インシデント#{incident}") for e in looks)
    assert all(e.incident_id == incident for e in looks)
