"""The web UI in headless Chromium against the real app: roles see their screens, video plays."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from tests.support.deployment import PASSWORD, cameras_in_area
from tests.support.live import token
from tests.support.ui import LIVE_CAMERAS, RECORDED_CAMERA, RECORDED_SECONDS, T0

pytest.importorskip("selenium")
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 60  # generous: two shared cores, Chromium start-up, camera connections


def wait(driver, predicate, timeout=WAIT):
    """Until predicate(driver) is truthy. A page that re-renders (the ops console every
    10 s) can replace an element between finding and reading it: that poll is retried."""
    return WebDriverWait(driver, timeout, poll_frequency=0.2,
                         ignored_exceptions=(StaleElementReferenceException,)
                         ).until(lambda d: predicate(d))


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def text(driver, selector) -> str:
    """The first matching element's text, "" when there is none (read inside `wait` where
    the page re-renders)."""
    found = css(driver, selector)
    return found[0].text if found else ""


def sign_in(driver, base, user):
    driver.get(f"{base}/")
    wait(driver, lambda d: css(d, "#signin"))
    css(driver, "input[name=username]")[0].send_keys(user)
    css(driver, "input[name=password]")[0].send_keys(PASSWORD)
    css(driver, "#signin")[0].click()
    wait(driver, lambda d: css(d, "#signout") and css(d, "#signout")[0].is_displayed())


def no_errors(driver):
    box = css(driver, "#message")[0]
    assert not box.is_displayed() or "error" not in box.get_attribute("class"), box.text


def search_for(driver, text):
    """Replace the camera list's search text (as typing does: an input event)."""
    driver.execute_script("const el = document.querySelector('#cam-search');"
                          "el.value = arguments[0];"
                          "el.dispatchEvent(new Event('input'));", text)


def shot(driver, shots, name):
    path = shots / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def video_plays(driver, selector):
    """readyState >= 2 and currentTime moving forward."""
    get = ("const v = document.querySelector(arguments[0]);"
           "return v && [v.readyState, v.currentTime];")
    first = wait(driver, lambda d: (s := d.execute_script(get, selector)) and s[0] >= 2 and s)
    wait(driver, lambda d: d.execute_script(get, selector)[1] > first[1])


def test_division_manager_sees_their_area_and_plays_recorded_footage(browser, ui_server, shots):
    base = ui_server.url
    sign_in(browser, base, "tokatsu-koseki")
    browser.get(f"{base}/#/cameras")
    wait(browser, lambda d: css(d, "tr[data-camera]"))
    shown = {row.get_attribute("data-camera") for row in css(browser, "tr[data-camera]")}
    assert shown == cameras_in_area(ui_server.app.state.camerahub.settings.config, "koseki")
    assert not css(browser, "#nav-live") and not css(browser, "#nav-audit")
    assert "カメラ一覧" in browser.find_element(By.TAG_NAME, "h1").text
    # sites and floors by their names from the YAML, never ids; a state badge per camera
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "拠点: 中野区役所 本庁舎" in page and "1 階" in page and "拠点: hq" not in page
    assert len(css(browser, "tr[data-camera] td.health .badge")) >= len(shown)
    shot(browser, shots, "cameras-division-manager")
    # search narrows the list; a state filter with no match says so
    css(browser, "#cam-search")[0].send_keys("戸籍執務室")
    wait(browser, lambda d: 0 < len(css(d, "tr[data-camera]")) < len(shown))
    assert all("戸籍執務室" in row.text for row in css(browser, "tr[data-camera]"))
    search_for(browser, "該当なしの名前")
    wait(browser, lambda d: not css(d, "tr[data-camera]"))
    assert "条件に合うカメラはありません" in browser.find_element(By.TAG_NAME, "main").text
    search_for(browser, "")
    wait(browser, lambda d: len(css(d, "tr[data-camera]")) == len(shown))

    # a range wider than the recording: gaps (not recorded) on both sides
    start, end = T0 - timedelta(seconds=30), T0 + timedelta(seconds=RECORDED_SECONDS + 30)
    browser.get(f"{base}/#/playback?camera={RECORDED_CAMERA}&start={start:%Y-%m-%dT%H:%M:%SZ}"
                f"&end={end:%Y-%m-%dT%H:%M:%SZ}")
    wait(browser, lambda d: css(d, "#find"))
    # the inputs show Tokyo time: 10:00 JST is 01:00 UTC
    assert css(browser, "input[name=start]")[0].get_attribute("value").startswith(
        "2026-11-20T09:59:30")
    css(browser, "#find")[0].click()  # without a reason: refused in the UI already
    wait(browser, lambda d: css(d, "#message")[0].is_displayed())
    assert "理由" in css(browser, "#message")[0].text
    css(browser, "input[name=reason]")[0].send_keys("ログアラートの確認のため")
    css(browser, "#find")[0].click()
    wait(browser, lambda d: css(d, ".timeline .span.seg"))
    no_errors(browser)
    # the 10-minute window from 10:00: footage, then the rest of the window missing
    assert len(css(browser, ".timeline .span.gap")) == 1
    assert "録画なし" in browser.find_element(By.CSS_SELECTOR, "table.data").text
    css(browser, "#play")[0].click()
    video_plays(browser, "#player")
    shot(browser, shots, "playback-division-manager")

    css(browser, "#lang")[0].click()  # English, remembered in localStorage
    wait(browser, lambda d: css(d, "#nav-cameras")[0].text == "Cameras")
    assert css(browser, "#find")[0].text == "Find recordings"
    assert browser.execute_script("return localStorage.getItem('camerahub.lang')") == "en"
    assert browser.execute_script("return localStorage.getItem('camerahub.token')") is None
    assert browser.execute_script("return sessionStorage.getItem('camerahub.token')")
    browser.get(f"{base}/#/cameras")
    wait(browser, lambda d: css(d, "h1") and css(d, "h1")[0].text.startswith("Cameras"))
    shot(browser, shots, "cameras-english")


def test_crisis_management_live_grid_plays(browser, ui_server, shots):
    from selenium.webdriver.support.ui import Select
    sign_in(browser, ui_server.url, "kiki-sato")
    browser.get(f"{ui_server.url}/#/live")
    wait(browser, lambda d: len(css(d, "#live-grid video")) == 16)  # the default wall
    # cameras 5-16 are not simulated (connection refused): their tiles say so
    offline = wait(browser, lambda d: css(d, "#live-grid figure[data-state=offline]"))
    assert "カメラに接続できません" in offline[0].text
    Select(css(browser, "select[name=layout]")[0]).select_by_value("4")
    wait(browser, lambda d: len(css(d, "#live-grid video")) == 4)
    tiles = [v.get_attribute("data-camera") for v in css(browser, "#live-grid video")]
    assert tiles == list(LIVE_CAMERAS)  # list order: the simulated cameras
    for i in range(1, 5):
        video_plays(browser, f"#live-grid figure:nth-child({i}) video")
    src = css(browser, "#live-grid video")[0].get_attribute("src")
    assert src.startswith("blob:"), "tiles play through Media Source Extensions"
    hub = ui_server.app.state.camerahub.live
    assert all(hub.stats()[cam]["viewers"] == 1 for cam in LIVE_CAMERAS)
    first = [v.get_attribute("data-first-frame-ms") for v in css(browser, "#live-grid video")]
    print("live tiles: ms from request to first picture:", first)
    shot(browser, shots, "live-crisis-management")
    browser.get(f"{ui_server.url}/#/cameras")  # leaving the grid closes its streams
    wait(browser, lambda d: css(d, "tr[data-camera]"))
    assert len(css(browser, "tr[data-camera]")) == 100
    wait(browser, lambda d: all(s["viewers"] == 0 for s in hub.stats().values()))
    # each simulated camera's upstream, by how long it has been open: a reopened one would
    # be younger (offline cameras' tiles retry theirs, so a global count is not the test)
    before = {cam: hub.stats()[cam]["open_s"] for cam in LIVE_CAMERAS}
    browser.get(f"{ui_server.url}/#/live")  # back within the linger time: upstreams still open
    wait(browser, lambda d: css(d, "select[name=layout]"))
    Select(css(browser, "select[name=layout]")[0]).select_by_value("4")
    wait(browser, lambda d: len(css(d, "#live-grid video")) == 4)
    for i in range(1, 5):
        video_plays(browser, f"#live-grid figure:nth-child({i}) video")
    warm = [v.get_attribute("data-first-frame-ms") for v in css(browser, "#live-grid video")]
    print("live tiles, upstream already open: ms to first picture:", warm)
    after = {cam: hub.stats()[cam]["open_s"] for cam in LIVE_CAMERAS}
    assert all(after[c] >= before[c] for c in LIVE_CAMERAS), (
        "rejoining viewers reuse the open upstreams", before, after)


def test_incidents_screens(browser, ui_server, shots):
    base = ui_server.url
    body = {"room_id": "hq-1f-koseki", "reason": "端末操作ログの異常検知のため確認",
            "window": {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=1)).isoformat()}}
    resp = httpx.post(f"{base}/api/v1/incidents", json=body,
                      headers={"Authorization": f"Bearer {token(base, 'kiki-sato')}"})
    assert resp.status_code == 201, resp.text
    incident = resp.json()["id"]
    sign_in(browser, base, "kiki-sato")
    browser.get(f"{base}/#/incidents")
    wait(browser, lambda d: css(d, f"a[href='#/incidents/{incident}']"))
    shot(browser, shots, "incidents-list")
    css(browser, f"a[href='#/incidents/{incident}']")[0].click()
    wait(browser, lambda d: css(d, "dl.facts"))
    buttons = [b.text for b in css(browser, "button")]
    assert "保全を解除" in buttons and "証拠を書き出し" in buttons and "確認中にする" in buttons
    assert "JST" in browser.find_element(By.CSS_SELECTOR, "dl.facts").text
    shot(browser, shots, "incident-detail")


def test_auditor_sees_the_audit_table_and_no_cameras(browser, ui_server, shots):
    sign_in(browser, ui_server.url, "audit-watanabe")
    wait(browser, lambda d: css(d, "#audit-table tbody tr"))
    assert not css(browser, "#nav-cameras") and not css(browser, "#nav-live")
    assert css(browser, "#csv") and css(browser, "#nav-audit")
    # the sign-ins (the unfiltered first page is the oldest 100 entries, which the live
    # wall's sessions of the tests before may fill)
    browser.get(f"{ui_server.url}/#/audit?action=auth")
    wait(browser, lambda d: "渡辺" in " ".join(
        r.text for r in css(d, "#audit-table tbody td:nth-child(3)")))
    actors = {r.text for r in css(browser, "#audit-table tbody td:nth-child(3)")}
    # people by name, never by a typed id
    assert "渡辺 直子（情報安全対策委員会）" in actors  # the auditor's own sign-in
    assert not any(a.startswith(("user:", "system:")) for a in actors), actors
    css(browser, "#summarise")[0].click()
    wait(browser, lambda d: css(d, "#audit-summary table") or css(d, "#audit-summary p"))
    no_errors(browser)
    browser.execute_script("window.scrollTo(0, 0)")
    shot(browser, shots, "audit")
    browser.execute_script("document.getElementById('audit-summary').scrollIntoView()")
    shot(browser, shots, "audit-summary")
    browser.get(f"{ui_server.url}/#/cameras")  # not offered, and not reachable by URL either
    wait(browser, lambda d: css(d, "#audit-filter"))


def test_auditor_prints_the_monthly_viewing_register(browser, ui_server, shots):
    sign_in(browser, ui_server.url, "audit-watanabe")
    browser.get(f"{ui_server.url}/#/register")
    wait(browser, lambda d: css(d, "#register-chain"))  # last month's, shown at once
    month = browser.execute_script(
        "return new Date(Date.now() + 9 * 3600e3).toISOString().slice(0, 7)")
    box = css(browser, "input[name=month]")[0]
    browser.execute_script("arguments[0].value = arguments[1]", box, month)
    css(browser, "#register-show")[0].click()
    # this month's register holds the footage the other tests of this module looked at
    wait(browser, lambda d: css(d, ".register-site table tbody tr"))
    assert "改ざんなし" in css(browser, "#register-chain")[0].text
    assert css(browser, "#nav-register") and css(browser, "#register-pdf")
    assert css(browser, "#register-csv") and css(browser, "#register-holds")
    no_errors(browser)
    shot(browser, shots, "viewing-register")
    css(browser, "#lang")[0].click()
    wait(browser, lambda d: "Viewing register" in d.find_element(By.TAG_NAME, "h1").text)


def test_sign_in_screen_and_csp(browser, ui_server, shots):
    browser.get(f"{ui_server.url}/")
    wait(browser, lambda d: css(d, "#signin"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "サインイン"
    assert not css(browser, "#signout")[0].is_displayed()
    shot(browser, shots, "sign-in")
    css(browser, "input[name=username]")[0].send_keys("kiki-sato")
    css(browser, "input[name=password]")[0].send_keys("wrong password!")
    css(browser, "#signin")[0].click()
    wait(browser, lambda d: css(d, "#message")[0].is_displayed())
    # the whole message says what went wrong (not "サインインが必要です: ..." first)
    assert css(browser, "#message")[0].text == "ユーザーIDまたはパスワードが正しくありません"
    resp = httpx.get(f"{ui_server.url}/")
    assert "default-src 'self'" in resp.headers["content-security-policy"]
    assert "media-src 'self' blob:" in resp.headers["content-security-policy"]
    js = httpx.get(f"{ui_server.url}/ui/js/main.js")
    assert js.status_code == 200 and "content-security-policy" in js.headers


def test_expired_session_signs_out(browser, ui_server):
    sign_in(browser, ui_server.url, "kiki-sato")
    browser.execute_script("sessionStorage.setItem('camerahub.token', 'expired.token.value')")
    browser.get(f"{ui_server.url}/#/incidents")
    browser.refresh()
    wait(browser, lambda d: css(d, "#signin"))
    assert browser.execute_script("return sessionStorage.getItem('camerahub.token')") is None


def test_ops_gets_the_console_and_no_footage_screen(browser, ui_server):
    sign_in(browser, ui_server.url, "ops-takahashi")
    wait(browser, lambda d: d.current_url.endswith("#/ops"))
    assert [a.get_attribute("id") for a in css(browser, "#nav a")] == ["nav-ops"]
    wait(browser, lambda d: css(d, "#ops-cameras tr[data-camera]"))
    assert "運用監視" in browser.find_element(By.TAG_NAME, "h1").text
    browser.get(f"{ui_server.url}/#/cameras")  # no camera list: back to the console
    wait(browser, lambda d: d.current_url.endswith("#/ops"))
