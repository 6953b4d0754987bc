"""The recorder service: one segmenter thread per camera, a shared spool, an uploader, the index.

Data path: camera RTSP -> Segmenter (stream copy) -> spool ready/ -> Uploader -> store ->
index row. Gaps are written as they happen: a session that ends opens a gap at the end of
its last segment; the next segment's start closes it. On start, leftovers of a previous
run are verified (their playable part finalized, the rest quarantined) and queued again,
and every camera gets a `recorder_down` gap from the end of its last known segment. A
segment that would overlap footage of its camera already indexed is never uploaded or
indexed: it is quarantined and reported as a `recorder.segment_refused` event.

Nothing but stop() ends a camera's loop: whatever fails (the camera's ONVIF answers, the
stream, the database, a bug) becomes a gap with a cause, an event and a camera state, and
the camera is tried again after a backoff. A supervisor thread restarts a camera thread
that died anyway (a BaseException, a bug in the failure handling itself) and counts it.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from camerahub.cameras import CameraAccessError, CredentialUnavailable, StreamUnavailable
from camerahub.config import Config
from camerahub.config.runtime import Runtime
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.db.types import utcnow
from camerahub.onvif import OnvifError
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
from camerahub.times import wire_time
from camerahub.video import salvage_segment
from camerahub.video.errors import (
    SinkFailed,
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
# How often the supervisor looks at the camera threads when no thread told it it ended.
SUPERVISE_S = 5.0
# A segment starting later than this after its camera's previous one, with no gap open, left
# a hole inside a session: it becomes a gap row (segments of one session abut exactly).
HOLE_TOLERANCE = timedelta(milliseconds=250)
# How often the recorder writes its heartbeat row (alive, spool, uploads) for the API.
HEARTBEAT_S = 10.0
# Cameras asked for their stream (ONVIF) at once: a recorder starting hundreds of cameras
# at the same moment would otherwise keep its reading threads from the interpreter behind
# hundreds of SOAP exchanges, and send every camera's SOAP requests in the same second.
OPENING_AT_ONCE = 8
# Heartbeat rows of recorders that stopped beating (killed, host gone) are kept this long,
# so the operations console shows the dead recorder for a week, then dropped.
HEARTBEAT_KEEP = timedelta(days=7)
# Causes that change only when someone acts (a password, a certificate, the CA file): the
# camera is asked again every auth_retry_s, not at the reconnect back-off's pace.
SLOW_RETRY_CAUSES = frozenset({"unauthorized", "untrusted_certificate"})
# Events of high severity: a fault of ours, or a camera that cannot prove who it is (another
# device may be answering at its address).
HIGH_CAUSES = frozenset({"internal", "untrusted_certificate"})


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
    supervise_s: float = SUPERVISE_S
    heartbeat_s: float = HEARTBEAT_S
    engine: str = "rtp"
    ca_file: str | None = None  # rtsps:// cameras' CAs (defaults.tls_ca_file, resolved)

    @classmethod
    def from_config(cls, cfg: Config) -> RecorderOptions:
        """Options from the `recorder:` section."""
        rec = cfg.recorder
        return cls(segment_seconds=rec.segment_seconds, read_timeout_s=rec.read_timeout_s,
                   upload_workers=rec.upload_workers, spool_limit_bytes=rec.spool_limit_mb << 20,
                   backoff=Backoff(initial_s=rec.reconnect_min_s, max_s=rec.reconnect_max_s),
                   engine=rec.engine)


def gap_cause(exc: StreamError) -> str:
    """The recorded cause of a gap that starts with this session end."""
    if isinstance(exc, StreamOpenError):
        return {"unauthorized": "unauthorized", "forbidden": "unauthorized",
                "untrusted": "untrusted_certificate"}.get(exc.kind, "camera_offline")
    if isinstance(exc, StreamStalled):
        return "stream_stalled"
    if isinstance(exc, StreamInvalid):
        return "stream_invalid"
    if isinstance(exc, SinkFailed):  # the spool, not the camera
        return "spool_full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "internal"
    if isinstance(exc, StreamEnded):
        return "camera_dropped"
    return "stream_error"


def failure_cause(exc: BaseException) -> str:
    """The recorded cause of a gap that starts with any failure of a camera's loop: the
    stream's own causes, what the camera's ONVIF answers amount to, else `internal`."""
    if isinstance(exc, StreamError):
        return gap_cause(exc)
    if not isinstance(exc, CameraAccessError):
        return "internal"  # a bug, the database, the spool: nothing the camera did
    device = exc.__cause__ if isinstance(exc.__cause__, OnvifError) else None
    if isinstance(exc, CredentialUnavailable) or (device and device.kind == "unauthorized"):
        return "unauthorized"
    if device is not None and device.kind == "untrusted":
        return "untrusted_certificate"  # ONVIF over HTTPS, the certificate refused
    if device is not None and device.kind != "unreachable":
        return "camera_bad_answer"  # not ONVIF, malformed answers, a refused setting
    if device is None and isinstance(exc, StreamUnavailable):
        return "camera_bad_answer"  # no stream URI, or one we must not open
    return "camera_offline"


class Recorder:
    """Records a set of cameras until stopped."""

    def __init__(self, cfg: Config, runtime: Runtime, sessions: sessionmaker[Session],
                 store: SegmentStore, resolve_stream: StreamResolver,
                 camera_ids: list[str] | None = None, options: RecorderOptions | None = None):
        self.cfg, self.sessions, self.store = cfg, sessions, store
        self.resolve_stream = resolve_stream
        self.options = options or RecorderOptions.from_config(cfg)
        ca_file = runtime.camera_ca_file(cfg)
        if self.options.ca_file is None and ca_file is not None:
            self.options = replace(self.options, ca_file=ca_file)
        spool_dir = cfg.recorder.spool_dir
        self.spool_dir = spool_dir if spool_dir.is_absolute() else runtime.data_dir / spool_dir
        self.spool = Spool(self.spool_dir, self.options.spool_limit_bytes, self._on_alarm)
        self.uploader = Uploader(self.spool, store, self._index, self.options.upload_workers,
                                 self.options.retry, on_retry=self._on_retry,
                                 admit=self._admit, on_quarantine=self._on_refused)
        self.camera_ids = camera_ids
        self.stop_event = threading.Event()
        # How often the supervisor restarted each camera's thread (a dead thread is a bug).
        self.restarts: Counter[str] = Counter()
        self._workers: dict[str, _Worker] = {}
        self._wake = threading.Event()  # a camera thread ended: the supervisor looks at once
        self._opening = threading.BoundedSemaphore(OPENING_AT_ONCE)
        self._supervisor: threading.Thread | None = None
        # Cameras with an open gap or a recording state other than "recording": only their
        # next segment needs a database write; every other segment costs none.
        self._unsettled: set[str] = set()
        self._last_end: dict[str, datetime] = {}  # end of each camera's newest segment
        self._lock = threading.Lock()
        self.heartbeat_id = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"[:128]
        self._started_at = utcnow()
        self._next_beat = 0.0
        self.uploaded = Counter()  # "segments" and "bytes" stored and indexed by this process

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
            self._start_worker(cam)
        self._cameras_n = len(cameras)
        self._beat()
        self._supervisor = threading.Thread(target=self._supervise, name="rec-supervisor",
                                            daemon=True)
        self._supervisor.start()
        name_native(self._supervisor)
        log.info("recording %d cameras", len(cameras))

    @property
    def threads(self) -> list[threading.Thread]:
        """The cameras' current recording threads."""
        with self._lock:
            return [w.thread for w in self._workers.values()]

    def stop(self, timeout: float = 30.0) -> None:
        """Close every session (finishing the segment in progress) and stop uploading."""
        self.stop_event.set()
        self._wake.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout)  # first, so that it restarts nothing from now on
        for thread in self.threads:
            thread.join(timeout)
        self.uploader.notify()
        self.uploader.wait_idle(timeout)
        self.uploader.stop(timeout)
        self._beat(stopped=True)

    def _cameras(self) -> list[m.Camera]:
        with self.sessions() as s:
            stmt = select(m.Camera).where(m.Camera.recording_enabled.is_(True))
            cams = list(s.scalars(stmt.order_by(m.Camera.id)))
        if self.camera_ids is not None:
            wanted = set(self.camera_ids)
            cams = [c for c in cams if c.id in wanted]
        return cams

    # --- one camera ------------------------------------------------------------------------

    def _start_worker(self, cam: m.Camera, deaths_in_a_row: int = 0) -> None:
        """Start (or restart) the recording thread of one camera."""
        worker = _Worker(cam, deaths_in_a_row=deaths_in_a_row)
        worker.thread = threading.Thread(target=self._worker, args=(worker,),
                                         name=f"rec-{cam.id}", daemon=True)
        worker.thread.start()
        name_native(worker.thread)
        with self._lock:
            self._workers[cam.id] = worker

    def _worker(self, worker: _Worker) -> None:
        """A camera thread: the loop; how it ended is kept for the supervisor, woken at once."""
        try:
            self._run_camera(worker.cam)
        except BaseException as exc:
            worker.death = exc
            raise  # threading's excepthook prints the traceback
        finally:
            self._wake.set()

    def _run_camera(self, cam: m.Camera) -> None:
        """Record one camera until stop; any failure is recorded and retried, never final."""
        segmenter: Segmenter | None = None
        retry = _Retry(self.options.backoff)
        while not self.stop_event.is_set():
            try:
                if retry.attempts:
                    self._forget(cam)  # ask the camera again after a failed session
                retry.attempts += 1
                segmenter = segmenter or self._segmenter(cam)
                url = self._resolve(cam)
                if url is None:
                    return  # stopping
                self._session(cam, segmenter, url)
            except StreamOpenError as exc:  # credentials refused over RTSP: already a gap
                log.error("camera %s: %s; retrying in %.0f s", cam.id, redact(str(exc)),
                          self.options.auth_retry_s)
                self.stop_event.wait(self.options.auth_retry_s)
            except Exception as exc:  # noqa: BLE001 - one camera must never stop for good
                last_end = segmenter.last_end_utc if segmenter is not None else None
                cause = self._on_failure(cam, exc, last_end)
                # refused credentials or certificates are not retried every few seconds
                self.stop_event.wait(self.options.auth_retry_s if cause in SLOW_RETRY_CAUSES
                                     else retry.delay(last_end))

    def _resolve(self, cam: m.Camera) -> str | None:
        """The camera's stream URL, with at most OPENING_AT_ONCE cameras asked at a time;
        None when the recorder stops meanwhile."""
        while not self._opening.acquire(timeout=0.5):
            if self.stop_event.is_set():
                return None
        try:
            return self.resolve_stream(cam)
        finally:
            self._opening.release()

    def _segmenter(self, cam: m.Camera) -> Segmenter:
        """The camera's segmenter into the spool, announcing each segment."""
        config = SegmenterConfig(segment_seconds=self.options.segment_seconds,
                                 input=InputOptions(read_timeout_s=self.options.read_timeout_s,
                                                    ca_file=self.options.ca_file),
                                 engine=self.options.engine)
        return Segmenter(cam.id, cam.site_id, self.spool.sink(),
                         lambda info: self._on_segment(cam, info), config)

    def _session(self, cam: m.Camera, segmenter: Segmenter, url: str) -> None:
        """Record with reconnects until stop; raises when the camera refuses our credentials
        (a gap already says so) or anything else ends the session."""
        run_camera(segmenter, url, self.stop_event,
                   lambda exc: self._on_stream_event(cam, exc), self.options.backoff)

    def _forget(self, cam: m.Camera) -> None:
        """Have the resolver ask the camera for its stream again."""
        getattr(self.resolve_stream, "forget", lambda _id: None)(cam.id)

    def _on_failure(self, cam: m.Camera, exc: Exception, last_end: datetime | None) -> str:
        """Log, then record a failure of the camera's loop as gap, event and state; returns
        the cause. Failing to record it (the database is down) is logged, not raised."""
        cause = failure_cause(exc)
        detail = redact(str(exc) or type(exc).__name__)
        if cause == "internal":  # a bug or a broken dependency: keep the traceback
            detail = f"{type(exc).__name__}: {detail}"
            log.error("camera %s: %s; retrying", cam.id, detail, exc_info=exc)
        else:
            log.warning("camera %s: %s: %s; retrying", cam.id, cause, detail)
        try:
            self._record_failure(cam.id, cause, detail, last_end or utcnow())
        except Exception:  # noqa: BLE001 - the loop goes on; the next failure tries again
            log.exception("camera %s: could not record the failure", cam.id)
        return cause

    def _record_failure(self, camera_id: str, cause: str, detail: str, start: datetime,
                        extra: dict | None = None) -> None:
        """A gap from `start` (unless one is open), the state saying why, and an event."""
        with self._lock:
            self._unsettled.add(camera_id)
        with self.sessions.begin() as s:
            if not index.gaps_open(s, camera_id):
                index.open_gap(s, camera_id, start, cause, detail[:500])
            state = _state(s, camera_id)
            _set_recording(state, cause, start)
            state.details = {**(state.details or {}), **(extra or {}), "last_error": {
                "cause": cause, "detail": detail[:500], "at": wire_time(utcnow())}}
            s.add(m.Event(kind=f"recorder.{cause}",
                          severity="high" if cause in HIGH_CAUSES else "warning",
                          message=f"{camera_id}: {detail}"[:1000], camera_id=camera_id,
                          data={"camera": camera_id, "cause": cause, **(extra or {})}))

    # --- supervision -----------------------------------------------------------------------

    def _supervise(self) -> None:
        """Restart camera threads that died, after a backoff, until stop."""
        while not self.stop_event.is_set():
            self._wake.clear()
            try:
                wait = self._check_workers()
            except Exception:  # noqa: BLE001 - the supervisor is the last line: never exits
                log.exception("recorder supervisor failed; looking again")
                wait = self.options.supervise_s
            if time.monotonic() >= self._next_beat:
                self._beat()
            self._wake.wait(max(0.0, min(wait, self._next_beat - time.monotonic())))

    def _beat(self, stopped: bool = False) -> None:
        """Write this process's heartbeat row: alive, cameras, spool bytes, upload lag.
        A database that cannot be written is logged; the next beat tries again."""
        self._next_beat = time.monotonic() + self.options.heartbeat_s
        try:
            items = self.spool.ready_items()
            now = utcnow()
            oldest = items[0].start_utc if items else None
            details = {"spool_bytes": self.spool.size_bytes(), "spool_segments": len(items),
                       "spool_limit_bytes": self.options.spool_limit_bytes,
                       "oldest_unuploaded": wire_time(oldest) if oldest else None,
                       "upload_lag_s": round((now - oldest).total_seconds(), 1)
                       if oldest else 0.0,
                       "restarts": sum(self.restarts.values()), "stopped": stopped,
                       "uploaded_segments": self.uploaded["segments"],
                       "uploaded_bytes": self.uploaded["bytes"],
                       **_disk(self.spool_dir)}
            with self.sessions.begin() as s:
                row = s.get(m.RecorderHeartbeat, self.heartbeat_id)
                if row is None:
                    row = m.RecorderHeartbeat(id=self.heartbeat_id, started_at=self._started_at)
                    s.add(row)
                row.at, row.cameras, row.details = now, getattr(self, "_cameras_n", 0), details
                s.execute(delete(m.RecorderHeartbeat).where(
                    m.RecorderHeartbeat.at < now - HEARTBEAT_KEEP,
                    m.RecorderHeartbeat.id != self.heartbeat_id))
        except Exception:  # noqa: BLE001 - a missed heartbeat shows as one; never fatal
            log.exception("recorder heartbeat could not be written")

    def _check_workers(self) -> float:
        """Note dead camera threads and restart those due; returns how long to sleep."""
        now = time.monotonic()
        wait = self.options.supervise_s
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            if worker.thread.is_alive() or self.stop_event.is_set():
                continue
            if worker.restart_at is None:
                worker.restart_at = now + self._on_worker_died(worker, now)
            if worker.restart_at <= now:
                self.restarts[worker.cam.id] += 1
                log.warning("camera %s: restarting its recording thread (restart %d)",
                            worker.cam.id, self.restarts[worker.cam.id])
                self._start_worker(worker.cam, worker.deaths_in_a_row)
            else:
                wait = min(wait, worker.restart_at - now)
        return wait

    def _on_worker_died(self, worker: _Worker, now: float) -> float:
        """Record a dead camera thread; returns the seconds to wait before restarting it."""
        quick = now - worker.started < self.options.backoff.max_s
        # Threads that die at once are restarted ever more slowly, not in a tight loop.
        worker.deaths_in_a_row = worker.deaths_in_a_row + 1 if quick else 1
        delay = self.options.backoff.delay(worker.deaths_in_a_row)
        death = worker.death
        why = f"{type(death).__name__}: {redact(str(death))}" if death else "ended"
        log.error("camera %s: recording thread died (%s); restart in %.1f s", worker.cam.id,
                  why, delay)
        try:
            self._record_failure(worker.cam.id, "internal", f"recording thread died ({why})",
                                 utcnow(), {"recorder_restarts": self.restarts[worker.cam.id]
                                            + 1})
        except Exception:  # noqa: BLE001 - restarting matters more than the record of it
            log.exception("camera %s: could not record the thread's death", worker.cam.id)
        return delay

    def _on_segment(self, cam: m.Camera, info: SpoolItem) -> None:
        self.spool.note_disk_full(False)  # a segment was finished: the disk takes writes
        with self._lock:
            unsettled = cam.id in self._unsettled
            self._unsettled.discard(cam.id)
            previous_end, self._last_end[cam.id] = self._last_end.get(cam.id), info.end_utc
        hole = None if previous_end is None else info.start_utc - previous_end
        try:
            closed = 0
            if unsettled:
                with self.sessions.begin() as s:
                    closed = index.close_gaps(s, cam.id, info.start_utc)
                    _set_recording(_state(s, cam.id), "recording", info.start_utc)
            if not closed and hole is not None and hole > HOLE_TOLERANCE:
                # no gap was open for it (or its opening could not be written)
                self._record_hole(cam.id, previous_end, info.start_utc)
        except Exception:
            with self._lock:  # try again with the next segment
                self._unsettled.add(cam.id)
            raise
        finally:
            self.uploader.notify(info.path)

    def _record_hole(self, camera_id: str, start: datetime, end: datetime) -> None:
        """Footage of one session that does not abut the previous segment: the stream paused
        (shorter than the stall timeout), its time jumped or packets were refused. A closed
        gap says so, so that no second of the camera's time is unaccounted for."""
        seconds = (end - start).total_seconds()
        log.warning("camera %s: %.1f s without footage inside a session", camera_id, seconds)
        with self.sessions.begin() as s:
            index.record_gap(s, camera_id, start, end, "stream_stalled",
                             f"no footage for {seconds:.1f} s within a session (the stream "
                             "paused, its time jumped or packets were refused)")

    def _on_stream_event(self, cam: m.Camera, exc: StreamError) -> None:
        cause = gap_cause(exc)
        if cause == "spool_full":
            self.spool.note_disk_full(True)
        start = exc.last_end_utc or utcnow()
        with self._lock:
            self._unsettled.add(cam.id)
        with self.sessions.begin() as s:
            if not index.gaps_open(s, cam.id):
                index.open_gap(s, cam.id, start, cause, redact(str(exc))[:500])
            _set_recording(_state(s, cam.id), cause, start)
        self._event(f"recorder.{cause}", "high" if cause in HIGH_CAUSES else "warning",
                    f"{cam.id}: {redact(str(exc))}"[:1000],
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
        with self._lock:
            self.uploaded.update(segments=1, bytes=item.bytes)
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
        severity = "critical" if alarm.state in ("over_limit", "disk_full") else "info"
        what = {"disk_full": "spool disk full: cameras cannot record; ",
                "disk_recovered": "spool disk takes footage again; "}.get(alarm.state, "")
        self._event(f"spool.{alarm.state}", severity,
                    f"{what}spool holds {alarm.bytes >> 20} MiB (limit {alarm.limit >> 20} MiB)",
                    {"bytes": alarm.bytes, "limit": alarm.limit})

    # --- bookkeeping ---------------------------------------------------------------------------

    def _set_state(self, camera_id: str, recording: str, details: dict | None = None) -> None:
        with self.sessions.begin() as s:
            state = _state(s, camera_id)
            _set_recording(state, recording, utcnow())
            if details:
                state.details = {**(state.details or {}), **details}

    def _event(self, kind: str, severity: str, message: str, data: dict,
               camera_id: str | None = None) -> None:
        with self.sessions.begin() as s:
            s.add(m.Event(kind=kind, severity=severity, message=message, data=data,
                          camera_id=camera_id))


@dataclass
class _Worker:
    """One camera's recording thread, as the supervisor sees it."""

    cam: m.Camera
    thread: threading.Thread = field(init=False)
    started: float = field(default_factory=time.monotonic)
    deaths_in_a_row: int = 0  # of its predecessors, each soon after its start
    death: BaseException | None = None  # what ended the thread, if an exception did
    restart_at: float | None = None  # set once the supervisor found the thread dead


class _Retry:
    """The backoff between a camera's attempts; starts over once the camera recorded."""

    def __init__(self, backoff: Backoff) -> None:
        self.backoff = backoff
        self.attempts = 0
        self._delays: Iterator[float] = backoff.delays()
        self._recorded_until: datetime | None = None

    def delay(self, last_end: datetime | None) -> float:
        """Seconds to wait now; footage since the last failure resets the backoff."""
        if last_end != self._recorded_until:
            self._recorded_until, self._delays = last_end, self.backoff.delays()
        return next(self._delays)


def _state(s: Session, camera_id: str) -> m.CameraState:
    state = s.get(m.CameraState, camera_id)
    if state is None:
        state = m.CameraState(camera_id=camera_id)
        s.add(state)
    return state


def _disk(path) -> dict:
    """Free and total bytes of the spool's filesystem (for the retention forecast)."""
    try:
        usage = shutil.disk_usage(path)
    except OSError:
        return {}
    return {"spool_disk_free_bytes": usage.free, "spool_disk_total_bytes": usage.total}


def _set_recording(state: m.CameraState, recording: str, since: datetime) -> None:
    """The camera's recording state; `recording_since` (details) moves only when it changes."""
    if state.recording != recording or not (state.details or {}).get("recording_since"):
        state.details = {**(state.details or {}), "recording_since": wire_time(since)}
    state.recording = recording


def _ms(value: int) -> timedelta:
    return timedelta(milliseconds=value)
