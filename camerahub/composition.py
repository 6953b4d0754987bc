"""The composition root: every long-lived object of a camerahub process is built here, once.

`camerahub serve`, `record` and `demo` (and the tests) call build_services(); the API gets the
result from create_app(settings, services) and never builds anything itself. This module sits
above the services and below `api` and `cli`: it must not import either.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from camerahub.audit.anchors import AnchorLog, AnchorSink
from camerahub.authz.passwords import HashParams, Passwords
from camerahub.authz.store import PolicyStore
from camerahub.cameras import CameraAccess
from camerahub.cameras.events import refusal_events
from camerahub.config import Config, Runtime
from camerahub.config.services import S3Storage
from camerahub.db.engine import open_database
from camerahub.incidents import IncidentService, Notifier
from camerahub.jobs import Alarms, AuditAnchoring, BackgroundJobs, StoreAnchors
from camerahub.live import LiveHub, LiveOptions, LiveSources
from camerahub.recorder import Recorder, RecorderOptions
from camerahub.recorder.streams import OnvifStreamResolver
from camerahub.recordings import FootageReader
from camerahub.storage import S3Settings, SegmentStore, StoreSpec, make_store


@dataclass(frozen=True)
class Tuning:
    """Knobs that tests and benchmarks turn; a deployment runs on the defaults."""

    password_hashing: HashParams = field(default_factory=HashParams)
    policy_check_interval_s: float = 2.0
    live: LiveOptions = field(default_factory=LiveOptions)


@dataclass
class Services:
    """The shared objects of one process; whoever called build_services() calls close()."""

    config: Config
    runtime: Runtime
    engine: Engine
    sessions: sessionmaker[Session]
    store: SegmentStore
    policy: PolicyStore
    passwords: Passwords
    incidents: IncidentService
    live: LiveHub
    footage: FootageReader
    cameras: CameraAccess
    jobs: BackgroundJobs | None = None
    alarms: Alarms | None = None  # evaluated (and published) only where jobs run

    def start(self) -> None:
        """Start the background jobs and the alarms, if this process runs them."""
        if self.jobs is not None:
            self.jobs.start()
            if self.alarms is not None:
                self.alarms.start()

    def close(self) -> None:
        """Stop the jobs and the live hub's camera sessions, then the database pool."""
        if self.alarms is not None:
            self.alarms.stop()
        if self.jobs is not None:
            self.jobs.stop()
        self.live.close()
        self.cameras.close()
        self.engine.dispose()


def _s3_settings(s3: S3Storage) -> S3Settings:
    """The bucket section of the config as S3Store takes it (credentials: env or profile)."""
    return S3Settings(bucket=s3.bucket, endpoint_url=s3.endpoint_url, region=s3.region,
                      path_style=s3.path_style, profile=s3.profile, sse=s3.sse,
                      kms_key_id=s3.kms_key_id)


def store_spec(config: Config, runtime: Runtime) -> StoreSpec:
    """The configured store in storage's own terms (a relative file path is under data_dir)."""
    storage = config.storage
    if storage.backend == "s3":
        return StoreSpec("s3", s3=_s3_settings(storage.s3) if storage.s3 else None)
    path = storage.file.path
    return StoreSpec("file", file_root=path if path.is_absolute() else runtime.data_dir / path)


def open_store(config: Config, runtime: Runtime) -> SegmentStore:
    """The configured SegmentStore (the one place that calls make_store)."""
    return make_store(store_spec(config, runtime))


def anchor_sinks(config: Config, runtime: Runtime, store: SegmentStore | None
                 ) -> list[AnchorSink]:
    """Where the audit chain's head is anchored: the local log, and the store if asked."""
    path = config.audit.anchor_file
    sinks: list[AnchorSink] = [AnchorLog(path if path.is_absolute() else runtime.data_dir / path)]
    if store is not None and config.audit.anchor_to_store:
        sinks.append(StoreAnchors(store))
    return sinks


def build_live_hub(config: Config, sessions: sessionmaker[Session], options: LiveOptions,
                   cameras: CameraAccess | None = None, ca_file: str | None = None) -> LiveHub:
    """The live hub over the cameras' live profiles (no camera is opened until watched)."""
    if ca_file is not None and options.ca_file is None:
        options = replace(options, ca_file=ca_file)
    sources = LiveSources(config, sessions, access=cameras)
    return LiveHub(sources, options, forget=sources.forget)


def build_services(config: Config, runtime: Runtime, tuning: Tuning | None = None, *,
                   background: bool = False) -> Services:
    """Open the database (migrating it) and build every shared service on top of it.

    Nothing starts here: no camera is contacted and no thread runs until start() (the
    background jobs, only when `background`) or the first live viewer.
    """
    tuning = tuning or Tuning()
    engine, sessions = open_database(runtime.database_url)
    store = open_store(config, runtime)
    ca_file = runtime.camera_ca_file(config)  # cameras' TLS: rtsps:// and ONVIF over HTTPS
    jobs = BackgroundJobs(config, sessions, store, AuditAnchoring(
        sessions, anchor_sinks(config, runtime, store), config.audit.anchor_interval_s),
        ca_file) if background else None
    anchoring = jobs.anchoring if jobs is not None else None
    spec = store_spec(config, runtime)
    alarms = Alarms(config, sessions, runtime.data_dir,
                    spec.file_root if spec.backend == "file" else None,
                    audit_broken=(lambda: anchoring.broken) if anchoring is not None else None)
    cameras = CameraAccess(config, on_refusal=refusal_events(sessions), ca_file=ca_file)
    return Services(
        config=config, runtime=runtime, engine=engine, sessions=sessions, store=store,
        policy=PolicyStore(sessions, config.access, tuning.policy_check_interval_s),
        passwords=Passwords(tuning.password_hashing),
        incidents=IncidentService(config, sessions, Notifier(config.incidents), store),
        live=build_live_hub(config, sessions, tuning.live, cameras, ca_file),
        footage=FootageReader(store), cameras=cameras, jobs=jobs, alarms=alarms)


def build_recorder(services: Services, camera_ids: list[str] | None = None,
                   options: RecorderOptions | None = None) -> Recorder:
    """A Recorder of the given cameras (default: every recorded one) into the services' store."""
    cfg = services.config
    return Recorder(cfg, services.runtime, services.sessions, services.store,
                    OnvifStreamResolver(cfg, access=services.cameras), camera_ids=camera_ids,
                    options=options)
