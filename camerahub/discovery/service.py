"""DiscoveryService: discovery runs on demand and periodically per site, with state kept."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session, sessionmaker

from camerahub.cameras import CameraAccess, CameraAccessError, CredentialUnavailable
from camerahub.cameras.uris import uri_problems
from camerahub.config import Camera, Config
from camerahub.db.types import utcnow
from camerahub.deploy.devices import DeviceRollout, FieldChange, rolled_out
from camerahub.onvif import Login, OnvifClient, OnvifError

from .model import DeviceResult, Finding, KnownCamera
from .plan import ScanPlan, plan_from_config
from .reconcile import reconcile
from .scan import Progress, Scan
from .store import load_known, save_results

log = logging.getLogger(__name__)


@dataclass
class DiscoveryRun:
    """The outcome of one run."""

    results: list[DeviceResult]
    seconds: float
    probe_errors: list[str] = field(default_factory=list)
    events: int = 0

    def counts(self) -> dict[str, int]:
        """How many devices per status."""
        out: dict[str, int] = {}
        for r in self.results:
            out[r.status] = out.get(r.status, 0) + 1
        return out


class DiscoveryService:
    """Finds cameras, reconciles them with the inventory and records state and events.

    `run_once()` for one round; `start()` runs rounds per site interval in a background
    thread until `stop()`.
    """

    def __init__(self, config: Config, sessions: sessionmaker[Session], *,
                 client: OnvifClient | None = None, probe_timeout: float = 2.0,
                 device_timeout: float = 5.0, workers: int = 16, check_drift: bool = True,
                 ca_file: str | None = None):
        self.config = config
        self.sessions = sessions
        self.probe_timeout = probe_timeout
        self.check_drift = check_drift
        self.workers = workers
        self._own_client = client is None
        self.client = client or OnvifClient(timeout=device_timeout, max_workers=workers,
                                            ca_file=ca_file)
        # Ad hoc runs have no file, hence no credentials: devices are tried without a login.
        self.access = CameraAccess(config, self.client) if config is not None else None
        self._unusable: set[str | None] = set()  # credentials already warned about
        self._unusable_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._run_lock = threading.Lock()  # one round at a time, loop or on demand

    # -- one round ------------------------------------------------------------------------

    def run_once(self, sites: Iterable[str] | None = None,
                 on_progress: Progress | None = None) -> DiscoveryRun:
        """Discover the named sites (default all) per their configuration; store the outcome."""
        plan = plan_from_config(self.config, sites, self.probe_timeout)
        return self.run(plan, on_progress)

    def run(self, plan: ScanPlan, on_progress: Progress | None = None,
            store: bool = True) -> DiscoveryRun:
        """Scan a plan, reconcile with the inventory, and (by default) store state and events."""
        with self._run_lock:
            started = time.monotonic()
            with self.sessions() as session:
                known = self._with_schemes(load_known(session))
            https_default = self.config is not None and self.config.defaults.onvif_https
            scan = Scan(plan, known, self.client, self.login_for, on_progress, self._stop,
                        https_default)
            results = reconcile(scan.run(), known, plan)
            self._check_uris(results)
            if self.check_drift and self.config is not None:  # ad hoc runs have no file
                self._drift(results)
            events = self._store(results) if store else 0
            run = DiscoveryRun(results, round(time.monotonic() - started, 3),
                               scan.probe_errors, events)
            log.info("discovery: %d devices in %.2f s %s", len(results), run.seconds,
                     run.counts())
            return run

    def _with_schemes(self, known: list[KnownCamera]) -> list[KnownCamera]:
        """The inventory's cameras, those configured for ONVIF over HTTPS marked so."""
        if self.config is None:
            return known
        https = {c.id for c in self.config.cameras if self.config.camera_onvif_https(c)}
        return [replace(k, https=True) if k.id in https else k for k in known]

    def login_for(self, cam: KnownCamera | None) -> Login | None:
        """The camera's login, else the defaults' (devices not in the inventory), or None."""
        if self.access is None:
            return None
        try:
            if cam is not None and self.config.camera(cam.id) is not None:
                return self.access.login(cam.id)
            return self.access.default_login()
        except CredentialUnavailable as exc:
            with self._unusable_lock:
                first = exc.credential_id not in self._unusable
                self._unusable.add(exc.credential_id)
            if first:
                log.warning("%s; trying without a login", exc)
            return None

    def _check_uris(self, results: list[DeviceResult]) -> None:
        """An `untrusted_uri` finding for each stream or snapshot URI we would refuse."""
        for result in results:
            report = result.sighting.report if result.sighting else None
            if report is None:
                continue
            cam = self.config.camera(result.camera_id) if self.config and result.camera_id \
                else None
            hosts = (result.address, *(cam.stream_hosts if cam else ()))
            problems = uri_problems(report, hosts)
            if problems:
                result.findings.append(Finding(
                    "untrusted_uri", "the camera names URIs camerahub will not open: "
                    + "; ".join(problems), {"problems": problems}))

    def _drift(self, results: list[DeviceResult]) -> None:
        """Add a `drift` finding to online cameras whose settings differ from the file.

        Only cameras a rollout has verified are checked: before that a difference is work
        for `deploy apply --devices`, not a change somebody made by hand.
        """
        cams = self.config.camera_by_id
        with self.sessions() as session:
            verified = rolled_out(session)
        todo = [(r, cams[r.camera_id]) for r in results
                if r.status == "online" and r.camera_id in cams and r.camera_id in verified
                and not r.replaced and not self.config.desired_device(cams[r.camera_id]).empty()]
        if not todo:
            return
        rollout = DeviceRollout(self.config, client=self.client, workers=self.workers,
                                timeout=self.client.timeout)
        with ThreadPoolExecutor(self.workers, thread_name_prefix="drift") as pool:
            diffs = list(pool.map(lambda item: _safe_drift(rollout, item[1]), todo))
        for (result, _cam), changes in zip(todo, diffs, strict=True):
            if changes:
                result.findings.append(_drift_finding(changes))

    def _store(self, results: list[DeviceResult]) -> int:
        """Write state and events in one transaction; returns the number of events.

        The transaction reads the states it updates: it takes SQLite's write lock up front
        (Sessions.begin), since a deferred read-then-write fails at once with "database is
        locked" when the recorder or the API wrote in between.
        """
        with self.sessions.begin() as session:
            return len(save_results(session, results, utcnow()))

    # -- periodic ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the background loop is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Run rounds in a daemon thread, each site at its discovery.interval_s."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="discovery", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to stop, cut a running probe short, and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._stop.clear()  # so later on-demand rounds are not cut short

    def close(self) -> None:
        """Stop the loop and release the ONVIF client if this service created it."""
        self.stop()
        if self._own_client:
            self.client.close()

    def _loop(self) -> None:
        """Every site is due at start, then again after its interval."""
        due = {s.id: time.monotonic() for s in self.config.sites}
        intervals = {s.id: s.discovery.interval_s for s in self.config.sites}
        while not self._stop.is_set():
            now = time.monotonic()
            ready = [site for site, at in due.items() if at <= now]
            if ready:
                self._safe_round(ready)
                for site in ready:
                    due[site] = time.monotonic() + intervals[site]
            self._stop.wait(max(0.0, min(due.values()) - time.monotonic()))

    def _safe_round(self, sites: list[str]) -> None:
        """One periodic round; a failure is logged and the loop goes on."""
        try:
            self.run_once(sites)
        except Exception:
            log.exception("discovery round for %s failed", ", ".join(sites))


def _safe_drift(rollout: DeviceRollout, cam: Camera) -> list[FieldChange]:
    """The camera's drift; a camera that cannot be read now has none to report."""
    try:
        return rollout.drift(cam)
    except (OnvifError, CameraAccessError) as exc:
        log.info("drift check on %s skipped: %s", cam.id, exc)
        return []


def _drift_finding(changes: list[FieldChange]) -> Finding:
    """One finding listing every setting changed away from the file."""
    text = "; ".join(f"{c.field} is {c.current!r}, the file says {c.desired!r}" for c in changes)
    return Finding("drift", f"settings changed on the camera: {text}",
                   {"fields": [c.as_json() for c in changes]})
