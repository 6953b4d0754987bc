"""One scan: probe every group at once and interrogate each device as soon as it answers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, wait
from urllib.parse import urlsplit

from camerahub.cameras import device_service_url
from camerahub.onvif import (
    DeviceUnreachable,
    Login,
    OnvifClient,
    OnvifError,
    ProbeError,
    ProbeMatch,
    WsDiscoveryProbe,
)

from .model import KnownCamera, Sighting
from .plan import ScanPlan, SitePlan

log = logging.getLogger(__name__)

LoginFor = Callable[[KnownCamera | None], Login | None]
Progress = Callable[[int, int], None]


class Scan:
    """Probes, interrogation futures and the sightings they fill in; thread-safe."""

    def __init__(self, plan: ScanPlan, known: list[KnownCamera], client: OnvifClient,
                 login_for: LoginFor, on_progress: Progress | None = None,
                 stop: threading.Event | None = None, https_default: bool = False):
        self.plan = plan
        # the deployment's defaults.onvif_https: a device matched to no camera (another
        # address, a name, not yet deployed) gets the defaults' login only over https://
        self.https_default = https_default
        self.client = client
        self.login_for = login_for
        self.on_progress = on_progress
        self.stop = stop or threading.Event()
        self.by_address = {c.address: c for c in known}
        self._lock = threading.Lock()
        self._sightings: list[Sighting] = []
        self._endpoints: set[str] = set()
        self._futures: list[Future] = []
        self._done = 0
        self.probe_errors: list[str] = []

    def run(self) -> list[Sighting]:
        """Probe all groups in parallel, then try configured cameras nobody answered for."""
        self.client.load()
        threads = [threading.Thread(target=self._probe, args=(g,), name=f"probe-{g.site}",
                                    daemon=True)
                   for g in self.plan.groups if g.interface or g.targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self._direct_attempts()
        while True:  # futures may still be added by late probe callbacks; none after join
            with self._lock:
                pending = [f for f in self._futures if not f.done()]
            if not pending:
                break
            wait(pending)
        return list(self._sightings)

    def _probe(self, group: SitePlan) -> None:
        """One probe group; a failing probe is logged and leaves its cameras to direct tries."""
        try:
            with WsDiscoveryProbe(group.targets, group.interface,
                                  timeout=self.plan.probe_timeout) as probe:
                probe.run(lambda m: self._on_match(group, m), self.stop)
        except (ProbeError, OSError) as exc:
            log.warning("probe for site %s failed: %s", group.site, exc)
            with self._lock:
                self.probe_errors.append(str(exc))

    def _on_match(self, group: SitePlan, match: ProbeMatch) -> None:
        """A new endpoint: note it and start interrogating right away."""
        with self._lock:
            if match.endpoint in self._endpoints:
                return
            self._endpoints.add(match.endpoint)
        site = group.site or self.plan.site_of(match.address)
        known = self.by_address.get(match.address)
        xaddr = match.xaddr
        if known is not None and known.https:
            # a camera configured for HTTPS is asked at its configured https:// URL, never
            # at an http:// one a probe answer offers (its login would go unprotected)
            xaddr = device_service_url(known.address, known.port, True)
        sighting = Sighting(match.address, _port_of(xaddr), xaddr, site, match.endpoint,
                            probed=True)
        self._interrogate(sighting, known)

    def _direct_attempts(self) -> None:
        """Configured cameras in scope that no probe found: ask ONVIF directly (manual mode,
        or devices that do not answer directed probes)."""
        with self._lock:
            answered = {s.address for s in self._sightings}
        for cam in self.by_address.values():
            if self.stop.is_set():
                return
            if cam.address not in answered and self.plan.in_scope(cam):
                xaddr = device_service_url(cam.address, cam.port, cam.https)
                self._interrogate(Sighting(cam.address, cam.port, xaddr, cam.site), cam)

    def _interrogate(self, sighting: Sighting, known: KnownCamera | None) -> None:
        """Submit the interrogation; the callback files the report or the error."""
        login = self.login_for(known)
        plain = urlsplit(sighting.xaddr).scheme != "https"
        if plain and (known.https if known is not None else self.https_default):
            login = None  # never a login over plain HTTP where the deployment says HTTPS
        future = self.client.submit(sighting.xaddr, login)
        with self._lock:
            self._sightings.append(sighting)
            self._futures.append(future)
        future.add_done_callback(lambda f: self._finished(sighting, f))
        self._progress()

    def _finished(self, sighting: Sighting, future: Future) -> None:
        """File the outcome on the sighting (runs in the pool thread)."""
        try:
            sighting.report = future.result()
        except OnvifError as exc:
            sighting.error = exc
        except CancelledError:
            sighting.error = DeviceUnreachable(sighting.address, "scan stopped")
        except Exception as exc:  # a bug or an unforeseen library error: never lose the rest
            log.exception("interrogating %s failed unexpectedly", sighting.address)
            sighting.error = DeviceUnreachable(sighting.address, f"internal error: {exc}")
        with self._lock:
            self._done += 1
        self._progress()

    def _progress(self) -> None:
        if self.on_progress is not None:
            with self._lock:
                done, total = self._done, len(self._futures)
            self.on_progress(done, total)


def _port_of(xaddr: str) -> int:
    """The TCP port of a device URL."""
    url = urlsplit(xaddr)
    return url.port or (443 if url.scheme == "https" else 80)
