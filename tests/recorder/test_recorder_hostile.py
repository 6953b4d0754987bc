"""Nothing ends a camera's recording loop: bad ONVIF answers, bugs and dead threads each
become a gap with a cause, an event and a camera state, and the camera is tried again, while
the healthy camera next to it keeps recording.

cam-a is the simulator's hq-001 behind a hostile ONVIF front (tests.support.hostile_onvif) on
its own address; cam-b is fac-001, healthy. Cameras on 127.W.203.x / 127.W.204.x.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from camerahub.cameras import CameraAccess, insert_login
from camerahub.composition import open_store
from camerahub.db import models as m
from camerahub.recorder import Recorder, RecorderOptions
from camerahub.recorder.streams import OnvifStreamResolver
from camerahub.storage import RetryPolicy
from camerahub.video.segmenter import Backoff
from tests.support.hostile_onvif import HostileOnvif
from tests.support.recorder import deployment
from tests.support.simulators import simulator_fixture
from tests.support.wait import wait_for

SUBNET = 203
FAST = RecorderOptions(segment_seconds=4, read_timeout_s=4, upload_workers=2,
                       backoff=Backoff(initial_s=0.5, max_s=2), retry=RetryPolicy(max_s=2),
                       supervise_s=1.0)
# (operation, how it is corrupted, the gap cause, what the event says)
BAD_ANSWERS = [
    ("GetProfiles", "empty_body", "camera_bad_answer", "GetProfiles: empty SOAP Body"),
    ("GetProfiles", "hollow", "camera_bad_answer", "GetProfiles: no profile"),
    ("GetProfiles", "oversized", "camera_bad_answer", "GetProfiles: answer larger than"),
    ("GetStreamUri", "truncated", "camera_bad_answer", "GetStreamUri: malformed XML"),
    ("GetStreamUri", "wrong_types", "camera_bad_answer", "stream URI refused"),
    ("GetSystemDateAndTime", "not_xml", "camera_bad_answer", "GetSystemDateAndTime: malformed"),
    ("GetStreamUri", "endless", "camera_offline", "GetStreamUri: timed out"),
]

cams = simulator_fixture(SUBNET, cameras=2, hq=1)


@pytest.fixture
def hostile(cams):
    """A hostile ONVIF front for hq-001, on hq-001's own address."""
    with HostileOnvif(cams.device_url("hq-001")) as cam:
        yield cam


def _env(make_env, cams, tmp_path, hostile_port: int | None = None):
    data = deployment(cams, {"backend": "file", "file": {"path": str(tmp_path / "store")}},
                      tmp_path)
    if hostile_port is not None:
        data["cameras"][0]["port"] = hostile_port  # cam-a's ONVIF is the hostile front
    return make_env(data)


def _count(sessions, model, **where) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model).filter_by(**where))


def _events(sessions, camera_id: str, after: int) -> list[m.Event]:
    with sessions() as s:
        return list(s.scalars(select(m.Event).where(m.Event.camera_id == camera_id,
                                                    m.Event.id > after)))


def _last_event_id(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.max(m.Event.id))) or 0


def _state(sessions, camera_id: str) -> m.CameraState:
    with sessions() as s:
        return s.get(m.CameraState, camera_id)


def _gaps(sessions, camera_id: str) -> list[m.Gap]:
    with sessions() as s:
        return list(s.scalars(select(m.Gap).where(m.Gap.camera_id == camera_id)))


def _thread(rec: Recorder, name: str) -> threading.Thread:
    return next(t for t in rec.threads if t.name == name)


def test_bad_onvif_answers_never_end_a_cameras_loop(cams, hostile, make_env, tmp_path):
    cfg, runtime, sessions = _env(make_env, cams, tmp_path, hostile.port)
    operation, mode, _cause, _says = BAD_ANSWERS[0]
    hostile.corrupt(operation, mode)  # from the first question on
    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime), OnvifStreamResolver(cfg),
                   options=FAST)
    rec.start()
    try:
        wait_for(lambda: _count(sessions, m.Segment, camera_id="cam-b"))
        for operation, mode, cause, says in BAD_ANSWERS:
            since = _last_event_id(sessions)
            hostile.corrupt(operation, mode)

            def failed_twice(operation=operation, cause=cause, says=says, since=since):
                """cam-a met this bad answer twice (it retried), each time an event"""
                found = [e for e in _events(sessions, "cam-a", since)
                         if e.kind == f"recorder.{cause}" and says in e.message]
                return hostile.corrupted[operation] >= 2 and len(found) >= 2

            wait_for(failed_twice, timeout=180)
            assert _thread(rec, "rec-cam-a").is_alive()
            state = _state(sessions, "cam-a")
            assert state.recording == cause and says in state.details["last_error"]["detail"]
        segments_b = _count(sessions, m.Segment, camera_id="cam-b")
        hostile.heal()
        wait_for(lambda: _count(sessions, m.Segment, camera_id="cam-a"), timeout=180)
        wait_for(lambda: _count(sessions, m.Segment, camera_id="cam-b") > segments_b)
    finally:
        rec.stop()
    [gap] = _gaps(sessions, "cam-a")
    assert gap.cause == "camera_bad_answer" and "GetProfiles" in gap.detail
    assert gap.end is not None  # closed by cam-a's first segment
    assert _state(sessions, "cam-a").recording == "recording"
    assert not [g for g in _gaps(sessions, "cam-b") if g.cause != "recorder_down"]
    assert rec.restarts == {}  # the loop itself coped: no thread died


class Flaky:
    """A stream resolver that fails for cam-a as told, then gives the simulator's stream."""

    def __init__(self, sim, cfg, fail) -> None:
        self.sim, self.access, self.fail = sim, CameraAccess(cfg), fail
        self.calls: dict[str, int] = {}

    def __call__(self, cam: m.Camera) -> str:
        self.calls[cam.id] = self.calls.get(cam.id, 0) + 1
        if cam.id == "cam-a":
            self.fail(self.calls[cam.id])
        return insert_login(f"rtsp://{cam.address}:{self.sim.options.rtsp_port}/main",
                            self.access.require_login(cam.id))


def _never(_call: int) -> None:
    pass


def _index_error(call: int) -> None:
    if call <= 3:
        [][0]  # noqa: B018 - the shape of the finding: a bare IndexError from below


def test_an_unforeseen_exception_is_a_gap_an_event_and_a_retry(cams, make_env, tmp_path):
    cfg, runtime, sessions = _env(make_env, cams, tmp_path)
    resolver = Flaky(cams, cfg, _index_error)
    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime), resolver, options=FAST)
    rec.start()
    try:
        wait_for(lambda: _count(sessions, m.Segment, camera_id="cam-a"), timeout=180)
        wait_for(lambda: _count(sessions, m.Segment, camera_id="cam-b"))
    finally:
        rec.stop()
    assert resolver.calls["cam-a"] >= 4  # three failures, each retried
    [gap] = _gaps(sessions, "cam-a")
    assert (gap.cause, gap.end is not None) == ("internal", True)
    assert gap.detail.startswith("IndexError: list index out of range")
    kinds = [e.kind for e in _events(sessions, "cam-a", 0)]
    assert kinds.count("recorder.internal") == 3
    state = _state(sessions, "cam-a")
    assert state.recording == "recording" and state.details["last_error"]["cause"] == "internal"
    assert rec.restarts == {}


def test_a_failure_to_record_a_failure_does_not_end_the_loop(cams, make_env, tmp_path,
                                                             monkeypatch):
    """The database refuses the gap too: the loop logs it and goes on retrying."""
    cfg, runtime, sessions = _env(make_env, cams, tmp_path)
    resolver = Flaky(cams, cfg, _index_error)
    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime), resolver, options=FAST)

    def database_down(*_args, **_kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(rec, "_record_failure", database_down)
    rec.start()
    try:
        wait_for(lambda: _count(sessions, m.Segment, camera_id="cam-a"), timeout=180)
    finally:
        rec.stop()
    assert resolver.calls["cam-a"] >= 4 and rec.restarts == {}


class BreakingSink:
    """The spool's sink, raising an exception nobody foresaw when its second segment begins:
    something failing inside a session, after PLAY, once the camera already recorded."""

    def __init__(self, sink) -> None:
        self.sink, self.begun = sink, 0

    def begin(self, camera_id, site, start_utc, ext):
        self.begun += 1
        if camera_id == "cam-a" and self.begun == 2:
            raise ValueError("no such segment writer")
        return self.sink.begin(camera_id, site, start_utc, ext)

    def commit(self, file, **measured):
        return self.sink.commit(file, **measured)

    def abandon(self, file) -> None:
        self.sink.abandon(file)


def test_an_exception_inside_a_session_is_a_gap_from_the_last_footage(cams, make_env,
                                                                      tmp_path):
    cfg, runtime, sessions = _env(make_env, cams, tmp_path)
    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime),
                   Flaky(cams, cfg, _never), options=FAST)
    spool_sink = rec.spool.sink
    rec.spool.sink = lambda: BreakingSink(spool_sink())  # each camera's segmenter has its own
    rec.start()
    try:
        wait_for(lambda: _count(sessions, m.Segment, camera_id="cam-a") >= 2, timeout=180)
    finally:
        rec.stop()
    [gap] = _gaps(sessions, "cam-a")
    with sessions() as s:
        first = s.scalars(select(m.Segment).where(m.Segment.camera_id == "cam-a")
                          .order_by(m.Segment.start)).first()
    assert (gap.cause, gap.start) == ("internal", first.end)  # exactly where footage stops
    assert gap.detail == "ValueError: no such segment writer" and gap.end is not None
    assert [e.kind for e in _events(sessions, "cam-a", 0)] == ["recorder.internal"]


class Crash(BaseException):
    """Not an Exception: what no loop catches, so the thread dies."""


def _crash(call: int) -> None:
    if call <= 2:
        raise Crash("the thread dies")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_supervisor_restarts_a_dead_camera_thread_and_counts_it(cams, make_env, tmp_path):
    cfg, runtime, sessions = _env(make_env, cams, tmp_path)
    resolver = Flaky(cams, cfg, _crash)
    rec = Recorder(cfg, runtime, sessions, open_store(cfg, runtime), resolver, options=FAST)
    rec.start()
    try:
        wait_for(lambda: _count(sessions, m.Segment, camera_id="cam-a"), timeout=180)
        wait_for(lambda: _count(sessions, m.Segment, camera_id="cam-b"))
        assert _thread(rec, "rec-cam-a").is_alive()
    finally:
        rec.stop()
    assert rec.restarts == {"cam-a": 2}
    [gap] = _gaps(sessions, "cam-a")
    assert gap.cause == "internal" and "recording thread died (Crash" in gap.detail
    events = [e for e in _events(sessions, "cam-a", 0) if e.kind == "recorder.internal"]
    assert [e.data.get("recorder_restarts") for e in events] == [1, 2]
    assert _state(sessions, "cam-a").details["recorder_restarts"] == 2
