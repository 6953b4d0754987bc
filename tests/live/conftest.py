"""Fixtures for live-view tests: simulated cameras on 127.0.81.x and the real app over them."""

from __future__ import annotations

import pytest

from camerahub.live import LiveOptions
from simulator.testing import running_simulator
from tests.authz.authz_support import make_app
from tests.live.live_support import deploy_for, hub_of, serving

SUBNET = 81  # 127.0.81.x (HQ) / 127.0.82.x: this folder's own cameras


@pytest.fixture(scope="session")
def camera_password():
    """The example's camera credential reads CAMERAHUB_CAMERA_PASSWORD (the sim's admin)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")
        yield "admin"


@pytest.fixture(scope="module")
def sim(camera_password):
    """Four simulated HQ cameras standing in for the koseki room's cameras."""
    with running_simulator(cameras=4, hq=4, subnet=SUBNET) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def live_app(sim, tmp_path_factory):
    """(server, hub, cfg): the real app over uvicorn with a hub that lingers 1 s."""
    url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'db.sqlite'}"
    cfg = deploy_for(sim, url)
    app = make_app(url, cfg, live=LiveOptions(linger_s=1.0, max_queue=4))
    hub = hub_of(app)
    with serving(app) as server:
        yield server, hub, cfg
