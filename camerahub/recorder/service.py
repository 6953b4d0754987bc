"""The recorder service: one segmenter thread per camera, a shared spool, an uploader, the index.

Data path: camera RTSP -> Segmenter (stream copy) -> spool ready/ -> Uploader -> store ->
index row. Gaps are written as they happen: a session that ends opens a gap at the end of
its last segment; the next segment's start closes it. On start, leftovers of a previous
run are verified (their playable part finalized, the rest quarantined) and queued again,
and every camera gets a `recorder_down` gap from the end of its last known segment. A
segment that would overlap footage of its camera already indexed is never uploaded or
indexed: it is quarantined and reported as a `recorder.segment_refused` event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from camerahub.cameras import CameraAccessError
from camerahub.config import Config
from camerahub.config.runtime import Runtime
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.types import utcnow
from camerahub.storage import (
    RetryPolicy,
    SegmentRefused,
    SegmentStore,
    Spool,
    SpoolAlarm,
    SpoolItem,
    Uploader,
)
from camerahub.storage.errors import StorageError
from camerahub.video import salvage_segment
from camerahub.video.errors import (
    StreamEnded,
    StreamError,
    StreamInvalid,
    StreamOpenError,
    StreamStalled,
)
from camerahub.video.segmenter import Backoff, Segmenter, SegmenterConfig, run_camera
from camerahub.video.source import InputOptions, redact

from .threads import name_native

log = logging.getLogger(__name__)
# The URL to open for a camera, login included (streams.OnvifStreamResolver in production).
StreamResolver = Callable[[m.Camera], str]
# How long to wait before trying a camera again after it refused our credentials.
AUTH_RETRY_S = 300.0


@dataclass(frozen=True)
class RecorderOptions:
    """Tuning taken from the config's recorder section, overridable in tests."""

    segment_seconds: float = 10.0
    read_timeout_s: float = 10.0
    upload_workers: int = 4
    spool_limit_bytes: int = 10 << 30
    backoff: Backoff = Backoff()
    retry: RetryPolicy = RetryPolicy()
    auth_retry_s: float = AUTH_RETRY_S

    @classmethod
    def from_config(cls, cfg: Config) -> RecorderOptions:
        """Options from the `recorder:` section."""
        rec = cfg.recorder
        return cls(segment_seconds=rec.segment_seconds, read_timeout_s=rec.read_timeout_s,
                   upload_workers=rec.upload_workers, spool_limit_bytes=rec.spool_limit_mb << 20,
                   backoff=Backoff(initial_s=rec.reconnect_min_s, max_s=rec.reconnect_max_s))


def gap_cause(exc: StreamError) -> str:
    """The recorded cause of a gap that starts with this session end."""
    if isinstance(exc, StreamOpenError):
        return {"unauthorized": "unauthorized", "forbidden": "unauthorized"}.get(
            exc.kind, "camera_offline")
    if isinstance(exc, StreamStalled):
        return "stream_stalled"
    if isinstance(exc, StreamInvalid):
        return "stream_invalid"
    if isinstance(exc, StreamEnded):
        return "camera_dropped"
    return "stream_error"


class Recorder:
    """Records a set of cameras until stopped."""

    def __init__(self, cfg: Config, runtime: Runtime, sessions: sessionmaker[Session],
                 store: SegmentStore, resolve_stream: StreamResolver,
                 camera_ids: list[str] | None = None, options: RecorderOptions | None = None):
        self.cfg, self.sessions, self.store = cfg, sessions, store
        self.resolve_stream = resolve_stream
        self.options = options or RecorderOptions.from_config(cfg)
        spool_dir = cfg.recorder.spool_dir
        self.spool_dir = spool_dir if spool_dir.is_absolute() else runtime.data_dir / spool_dir
        self.spool = Spool(self.spool_dir, self.options.spool_limit_bytes, self._on_alarm)
        self.uploader = Uploader(self.spool, store, self._index, self.options.upload_workers,
                                 self.options.retry, on_retry=self._on_retry,
                                 admit=self._admit, on_quarantine=self._on_refused)
        self.camera_ids = camera_ids
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        # Cameras with an open gap or a recording state other than "recording": only their
        # next segment needs a database write; every other segment costs none.
        self._unsettled: set[str] = set()
        self._lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Recover the spool, start the uploader and one thread per camera."""
        report = self.spool.recover(salvage_segment)
        if report.quarantined:
            self._event("spool.quarantined", "warning",
                        f"{len(report.quarantined)} unplayable segment(s) quarantined",
                        {"files": [p.name for p in report.quarantined][:50]})
        cameras = self._cameras()
        self._mark_recorder_down(cameras)
        self.uploader.start()
        for thread in self.uploader._threads:
            name_native(thread, f"upload-{thread.name.rsplit('-', 1)[-1]}")
        for cam in cameras:
            thread = threading.Thread(target=self._run_camera, args=(cam,),
                                      name=f"rec-{cam.id}", daemon=True)
            thread.start()
            name_native(thread)
            self.threads.append(thread)
        log.info("recording %d cameras", len(cameras))

    def stop(self, timeout: float = 30.0) -> None:
        """Close every session (finishing the segment in progress) and stop uploading."""
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout)
        self.uploader.notify()
        self.uploader.wait_idle(timeout)
        self.uploader.stop(timeout)

    def _cameras(self) -> list[m.Camera]:
        with self.sessions() as s:
            stmt = select(m.Camera).where(m.Camera.recording_enabled.is_(True))
            cams = list(s.scalars(stmt.order_by(m.Camera.id)))
        if self.camera_ids is not None:
            wanted = set(self.camera_ids)
            cams = [c for c in cams if c.id in wanted]
        return cams

    # --- one camera ------------------------------------------------------------------------

    def _run_camera(self, cam: m.Camera) -> None:
        config = SegmenterConfig(segment_seconds=self.options.segment_seconds,
                                 input=InputOptions(read_timeout_s=self.options.read_timeout_s))
        segmenter = Segmenter(cam.id, cam.site_id, self.spool.sink(),
                              lambda info: self._on_segment(cam, info), config)
        delays = self.options.backoff.delays()
        while not self.stop_event.is_set():
            try:
                url = self.resolve_stream(cam)
            except CameraAccessError as exc:
                self._on_stream_event(cam, StreamOpenError("unreachable", str(exc)))
                self.stop_event.wait(next(delays))
                continue
            self._session(cam, segmenter, url)
            getattr(self.resolve_stream, "forget", lambda _id: None)(cam.id)

    def _session(self, cam: m.Camera, segmenter: Segmenter, url: str) -> None:
        """Record with reconnects until stop, or until the camera refuses our credentials."""
        try:
            run_camera(segmenter, url, self.stop_event,
                       lambda exc: self._on_stream_event(cam, exc), self.options.backoff)
        except StreamOpenError as exc:  # credentials refused: retry rarely, not in a loop
            log.error("camera %s: %s; retrying in %.0f s", cam.id, redact(str(exc)),
                      self.options.auth_retry_s)
            self.stop_event.wait(self.options.auth_retry_s)
        except Exception as exc:  # noqa: BLE001 - one camera must never stop the others
            log.exception("camera %s: recorder thread failed", cam.id)
            self._set_state(cam.id, "error", {"error": str(exc)[:500]})
            self.stop_event.wait(self.options.backoff.max_s)

    def _on_segment(self, cam: m.Camera, info: SpoolItem) -> None:
        with self._lock:
            unsettled = cam.id in self._unsettled
            self._unsettled.discard(cam.id)
        if unsettled:
            with self.sessions.begin() as s:
                index.close_gaps(s, cam.id, info.start_utc)
                _state(s, cam.id).recording = "recording"
        self.uploader.notify(info.path)

    def _on_stream_event(self, cam: m.Camera, exc: StreamError) -> None:
        cause = gap_cause(exc)
        start = exc.last_end_utc or utcnow()
        with self._lock:
            self._unsettled.add(cam.id)
        with self.sessions.begin() as s:
            if not index.gaps_open(s, cam.id):
                index.open_gap(s, cam.id, start, cause, redact(str(exc))[:500])
            _state(s, cam.id).recording = cause
        self._event(f"recorder.{cause}", "warning", f"{cam.id}: {redact(str(exc))}"[:1000],
                    {"camera": cam.id}, camera_id=cam.id)

    def _mark_recorder_down(self, cameras: list[m.Camera]) -> None:
        ends = self._last_known_ends()
        self._unsettled.update(cam.id for cam in cameras)
        with self.sessions.begin() as s:
            for cam in cameras:
                last = ends.get(cam.id)
                if last is not None and not index.gaps_open(s, cam.id):
                    index.open_gap(s, cam.id, last, "recorder_down")

    def _last_known_ends(self) -> dict[str, datetime]:
        with self.sessions() as s:
            ends = dict(s.execute(select(m.Segment.camera_id, func.max(m.Segment.end))
                                  .group_by(m.Segment.camera_id)).all())
        for item in self.spool.ready_items():
            end = item.start_utc + _ms(item.duration_ms)
            if item.camera_id not in ends or ends[item.camera_id] < end:
                ends[item.camera_id] = end
        return ends

    # --- upload and index --------------------------------------------------------------------

    def _admit(self, item: SpoolItem) -> str | None:
        """Why a segment must not be uploaded: it overlaps footage already indexed."""
        with self.sessions() as s:
            other = index.overlapping_segment(s, item.camera_id, item.start_utc,
                                              item.end_utc, item.key)
        return None if other is None else f"overlaps indexed segment {other}"

    def _index(self, item: SpoolItem, key: str, sha256: str) -> None:
        try:
            with self.sessions.begin() as s:
                held = index.index_segment(s, camera_id=item.camera_id, site_id=item.site,
                                           start=item.start_utc, end=item.end_utc,
                                           nbytes=item.bytes, sha256=sha256, key=key)
        except index.SegmentOverlap as exc:
            raise SegmentRefused(str(exc)) from exc
        if held and self.store.legal_hold_supported:
            try:
                self.store.set_legal_hold(key, True)
            except StorageError as exc:  # the index flag still keeps retention away
                log.warning("legal hold on %s failed: %s", key, exc)

    def _on_refused(self, item: SpoolItem, reason: str) -> None:
        self._event("recorder.segment_refused", "error",
                    f"{item.camera_id}: {item.path.name} quarantined: {reason}"[:1000],
                    {"camera": item.camera_id, "file": item.path.name, "reason": reason[:500]},
                    camera_id=item.camera_id)

    def _on_retry(self, item: SpoolItem, exc: StorageError, delay: float) -> None:
        log.warning("upload of %s failed (%s); retry in %.1f s", item.path.name, exc, delay)

    def _on_alarm(self, alarm: SpoolAlarm) -> None:
        severity = "critical" if alarm.state == "over_limit" else "info"
        self._event(f"spool.{alarm.state}", severity,
                    f"spool holds {alarm.bytes >> 20} MiB (limit {alarm.limit >> 20} MiB)",
                    {"bytes": alarm.bytes, "limit": alarm.limit})

    # --- bookkeeping ---------------------------------------------------------------------------

    def _set_state(self, camera_id: str, recording: str, details: dict | None = None) -> None:
        with self.sessions.begin() as s:
            state = _state(s, camera_id)
            state.recording = recording
            if details:
                state.details = {**(state.details or {}), **details}

    def _event(self, kind: str, severity: str, message: str, data: dict,
               camera_id: str | None = None) -> None:
        with self.sessions.begin() as s:
            s.add(m.Event(kind=kind, severity=severity, message=message, data=data,
                          camera_id=camera_id))


def _state(s: Session, camera_id: str) -> m.CameraState:
    state = s.get(m.CameraState, camera_id)
    if state is None:
        state = m.CameraState(camera_id=camera_id)
        s.add(state)
    return state


def _ms(value: int) -> timedelta:
    return timedelta(milliseconds=value)
