"""What a discovery run looks at: per site from the configuration, or given ad hoc."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from camerahub.config import Config
from camerahub.onvif import parse_targets

from .model import KnownCamera


@dataclass(frozen=True)
class SitePlan:
    """One probe group: multicast on an interface and/or directed probes; or manual."""

    site: str | None
    interface: str | None = None
    targets: tuple[str, ...] = ()
    manual: bool = False  # no probe: interrogate the site's configured cameras directly


@dataclass(frozen=True)
class ScanPlan:
    """The probe groups of a run and which configured cameras it is expected to see."""

    groups: tuple[SitePlan, ...]
    scope_sites: frozenset[str] = frozenset()
    scope_addresses: frozenset[str] = frozenset()
    probe_timeout: float = 2.0

    def in_scope(self, cam: KnownCamera) -> bool:
        """Whether a configured camera should have been found by this run."""
        return cam.site in self.scope_sites or cam.address in self.scope_addresses

    def site_of(self, address: str) -> str | None:
        """The site whose targets hold an address (first match)."""
        for group in self.groups:
            if address in group.targets:
                return group.site
        return None


def plan_from_config(cfg: Config, sites: Iterable[str] | None = None,
                     probe_timeout: float = 2.0) -> ScanPlan:
    """Each site's discovery settings (all sites, or the ones named)."""
    wanted = set(sites) if sites is not None else None
    groups = []
    for site in cfg.sites:
        if wanted is not None and site.id not in wanted:
            continue
        d = site.discovery
        groups.append(SitePlan(
            site=site.id, interface=d.interface if d.mode == "multicast" else None,
            targets=tuple(parse_targets(d.targets)) if d.mode == "unicast" else (),
            manual=d.mode == "manual"))
    return ScanPlan(tuple(groups), scope_sites=frozenset(g.site for g in groups),
                    probe_timeout=probe_timeout)


def plan_ad_hoc(cfg: Config | None, targets: Sequence[str] = (), interface: str | None = None,
                probe_timeout: float = 2.0) -> ScanPlan:
    """--targets and/or --interface: expected cameras are those on the probed addresses,
    plus, for multicast, those of sites that are discovered on the same interface."""
    addresses = tuple(parse_targets(targets))
    scope_sites: set[str] = set()
    if interface and cfg is not None:
        scope_sites = {s.id for s in cfg.sites
                       if s.discovery.mode == "multicast" and s.discovery.interface == interface}
    groups = (SitePlan(site=None, interface=interface, targets=addresses),)
    return ScanPlan(groups, frozenset(scope_sites), frozenset(addresses), probe_timeout)
