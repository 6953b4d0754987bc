"""The discovery folder's range and its deployments of the Nakano example on the simulator."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.simulators import SimProcess, nakano_on, subnet_prefixes

SUBNET = 51  # 127.W.51.x HQ (55 cameras), 127.W.52.x facilities (45)
HQ_PREFIX, FACILITY_PREFIX = subnet_prefixes(SUBNET)


@dataclass
class Deployment:
    """A deployment file and its applied inventory database."""

    path: Path
    url: str
    sessions: object
    config: object


def nakano_text(sim: SimProcess, url: str, drop: set[str] = frozenset(),
                interval_s: int | None = None, manual: set[str] = frozenset(),
                https: set[str] = frozenset(), https_default: bool = False) -> str:
    """The example on the simulator's addresses and port, with its own database; the cameras
    in `https` (every camera, with https_default) are said to speak ONVIF over HTTPS."""
    data = nakano_on(sim)
    data["database_url"] = url
    for site in data["sites"]:
        if interval_s:
            site["discovery"]["interval_s"] = interval_s
        if site["id"] in manual:
            site["discovery"] = {"mode": "manual"}
    data["cameras"] = [c for c in data["cameras"] if c["id"] not in drop]
    if https_default:
        data["defaults"]["onvif_https"] = True
    for cam in data["cameras"]:
        if cam["id"] in https:
            cam["onvif_https"] = True
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
