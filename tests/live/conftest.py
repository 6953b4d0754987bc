"""Fixtures for live-view tests: simulated cameras on 127.W.81.x and the real app over them."""

from __future__ import annotations

import pytest

from camerahub.live import LiveOptions
from tests.support.deployment import make_app
from tests.support.live import deploy_for, hub_of, serving
from tests.support.simulators import simulator_fixture

SUBNET = 81  # 127.W.81.x (HQ) / 127.W.82.x: this folder's own cameras


@pytest.fixture(scope="module")
def camera_password():
    """The example's camera credential reads CAMERAHUB_CAMERA_PASSWORD (the sim's admin);
    module-scoped so the variable does not leak into other folders' tests on this worker."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CAMERAHUB_CAMERA_PASSWORD", "admin")
        yield "admin"


# Four simulated HQ cameras standing in for the koseki room's cameras
sim = simulator_fixture(SUBNET, cameras=4, hq=4, requires=("camera_password",))


@pytest.fixture(scope="module")
def live_app(sim, tmp_path_factory):
    """(server, hub, cfg): the real app over uvicorn with a hub that lingers 1 s."""
    url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'db.sqlite'}"
    cfg = deploy_for(sim, url)
    app = make_app(url, cfg, live=LiveOptions(linger_s=1.0, max_lag_s=1.0))
    hub = hub_of(app)
    with serving(app) as server:
        yield server, hub, cfg
