"""GET /ops/overview: the ops console's document (the `health` action: ops, health keys)."""

from __future__ import annotations

from fastapi import APIRouter

from camerahub.composition import store_spec
from camerahub.errors import ErrorKind as K
from camerahub.inventory import Thresholds
from camerahub.inventory.overview import Where, overview

from .. import openapi as doc
from ..access import requires
from ..deps import StateDep

router = APIRouter(prefix="/ops", tags=["ops"])


def where(state) -> Where:
    """What the overview looks at besides the database, from the process's configuration."""
    services = state.services
    spec = store_spec(services.config, services.runtime)
    return Where(data_dir=services.runtime.data_dir,
                 store_root=spec.file_root if spec.backend == "file" else None,
                 retention_days=services.config.retention.default_days,
                 thresholds=Thresholds(segment_late_s=services.config.alarms.segment_late_s))


@router.get("/overview", responses=doc.responses(K.UNAUTHENTICATED, K.FORBIDDEN))
@requires("health")
def ops_overview(state: StateDep) -> dict:
    """Cameras not recording per site, spool and uploads, health, retention forecast,
    discovery findings, the last deployment and device rollout, active alarms."""
    alarms = state.services.alarms.active() if state.services.alarms is not None else []
    return overview(state.sessions, state.services.store, where(state), alarms)


@router.get("/alarms", responses=doc.responses(K.UNAUTHENTICATED, K.FORBIDDEN))
@requires("health")
def ops_alarms(state: StateDep) -> list[dict]:
    """The active alarms (the UI's notification area polls this)."""
    return state.services.alarms.active() if state.services.alarms is not None else []
