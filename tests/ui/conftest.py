"""Fixtures for browser tests: the real app under uvicorn over simulated cameras and real
recorded segments, driven by headless Chromium (Debian's package) through Selenium."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from camerahub.db import segments as index
from camerahub.live import LiveOptions
from camerahub.storage import FileStore
from tests.support.deployment import make_app
from tests.support.live import deploy_for, serving
from tests.support.media import segments
from tests.support.simulators import running_simulator
from tests.support.ui import LIVE_CAMERAS, RECORDED_CAMERA, RECORDED_SECONDS, SIZE, T0

SUBNET = 83  # 127.W.83.x: this folder's own cameras
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic",
         "--autoplay-policy=no-user-gesture-required", "--window-size=1400,1000",
         "--lang=ja")


@pytest.fixture(scope="session")
def chromium():
    """Chromium and its driver from Debian (make setup installs them)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("chromium and chromium-driver are not installed (run make setup)")
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where screenshots go: $CAMERAHUB_UI_SCREENSHOTS, else a temporary directory."""
    target = os.environ.get("CAMERAHUB_UI_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def record_segments(sessions, store: FileStore, work: Path, source: Path) -> None:
    """Real H.264 segments (PyAV + the real segmenter) in the store, with index rows."""
    for info in segments(source, work / "spool", RECORDED_CAMERA, "hq", T0):
        key = f"hq/{RECORDED_CAMERA}/{info.start_utc:%Y%m%dT%H%M%S.%f}.ts"
        store.put(key, info.path, info.sha256)
        with sessions.begin() as s:
            index.add_segment(s, camera_id=RECORDED_CAMERA, site_id="hq", start=info.start_utc,
                              end=info.end_utc, nbytes=info.bytes, sha256=info.sha256, key=key)


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory, h264):
    """The real app (live hub over simulated cameras, footage from real segments)."""
    work = tmp_path_factory.mktemp("ui")
    with pytest.MonkeyPatch.context() as mp, \
            running_simulator(cameras=4, hq=4, subnet=SUBNET) as sim:
        mp.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")
        url = f"sqlite:///{work / 'db.sqlite'}"
        cfg = deploy_for(sim, url, LIVE_CAMERAS)
        # A linger longer than any test (30 s by default): a return to the grid is warm
        # however slowly a loaded machine runs the steps between.
        app = make_app(url, cfg, data_dir=work, live=LiveOptions(linger_s=600))
        source = h264(RECORDED_SECONDS, size=SIZE, profile="baseline")
        record_segments(app.state.camerahub.sessions, FileStore(work / "segments"), work, source)
        with serving(app) as server:
            yield server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so the browser fixture knows of a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def browser(chromium, monkeypatch, request, shots):
    """A fresh headless Chromium (own profile directory) driven by chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium-manager must never download
    binary, driver_path = chromium
    profile = tempfile.mkdtemp(prefix="camerahub-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    try:
        yield driver
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:  # keep what the page showed, for the log
            driver.save_screenshot(str(shots / f"FAILED-{request.node.name}.png"))
            print("page text at failure:", driver.find_element("tag name", "body").text)
            print("browser log:", driver.get_log("browser"))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)

