"""One live session over a WebSocket: fMP4 fragments out, token refreshes in, access re-decided.

Protocol (documented in docs/architecture.md, "Live view over WebSocket"):

- server, text: {"type": "start", "session", "camera", "profile", "codec", "recheck_s"}
- server, binary: 8 bytes (big-endian float64: when the hub received the frame, ms since
  the epoch; 0 for the init segment) followed by the init segment or one fragment (one frame)
- server, text: {"type": "end", "reason", "message"} just before it closes; reasons are
  not-permitted, not-found, unauthenticated, unavailable, too-slow, ended, invalid
- client, text: {"type": "token", "access_token": "<a fresh media token>"} before the
  current one expires; the server answers {"type": "token-ok"} or ends the session.

The session is re-decided at once when this process changes access (a grant created or
revoked, the user's sessions revoked, a new policy loaded: camerahub.authz.changes). Every
`recheck_s` seconds it looks for changes made elsewhere (the CLI, another node): one shared
query per process (changes.fingerprint) rather than a full decision per session, which on
a busy wall stole the CPU from the frames; a session decides again in full when that
answer moved, when its token is about to expire, on every tick when a time-boxed grant is
its basis, and every FULL_RECHECK_S anyway. A viewer whose right ended is told why and
cut. Its audit entries are a start (the connect decision) and an end (duration, frames,
why it ended).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import re
import struct
import time
from dataclasses import dataclass, replace

from starlette.websockets import WebSocket, WebSocketDisconnect

from camerahub.authz import changes
from camerahub.authz.errors import NotAuthenticated
from camerahub.authz.tokens import verify_token
from camerahub.errors import CamerahubError, ErrorKind
from camerahub.live import LiveHub, LiveUnavailable
from camerahub.live.boxes import Fragment
from camerahub.live.remux import codec_string

from .auditing import STATE_KEY, AuditDraft, write_draft
from .deps import FootageGrant, recheck_footage
from .errors import status_of
from .state import AppState

log = logging.getLogger(__name__)
STAMP = struct.Struct(">d")
PROFILE = re.compile(r"[A-Za-z0-9_-]{1,32}")
RECHECK_S = 2.0
FULL_RECHECK_S = 60.0
MAX_CLIENT_MESSAGE = 4096
REASONS = {ErrorKind.UNAUTHENTICATED: "unauthenticated", ErrorKind.FORBIDDEN: "not-permitted",
           ErrorKind.NOT_FOUND: "not-found", ErrorKind.UNAVAILABLE: "unavailable",
           ErrorKind.INVALID: "invalid"}
CLOSE_CODES = {"unauthenticated": 4401, "not-permitted": 4403, "not-found": 4404,
               "invalid": 4400, "unavailable": 4503, "too-slow": 4408, "ended": 1000}
_sessions = itertools.count(1)


def next_session() -> int:
    """A new live session number (audit entries of one session share it)."""
    return next(_sessions)


@dataclass
class Ended:
    """Why a session ended: a reason name, a message for the tile, the audit status."""

    reason: str
    message: str
    status: int = 101


def ended_by(exc: CamerahubError) -> Ended:
    """The end of a session refused or cut by a domain error."""
    return Ended(REASONS.get(exc.kind, "unavailable"), str(exc), status_of(exc.kind))


class AccessWatch:
    """The access fingerprint for every live session of the app: read in one thread at most
    once per half a recheck period however many sessions ask."""

    def __init__(self, state: AppState) -> None:
        self.state = state
        self.reads = 0
        self._value: tuple | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def current(self) -> tuple:
        """The fingerprint as read at most RECHECK_S / 2 ago (taken before any decision
        that relies on it, so a change after the read moves a later answer)."""
        loop = asyncio.get_running_loop()
        async with self._lock:
            if self._value is None or loop.time() - self._at >= RECHECK_S / 2:
                at = loop.time()
                self._value = await asyncio.to_thread(self._read)
                self._at = at
            return self._value

    def _read(self) -> tuple:
        self.reads += 1
        with self.state.sessions() as session:
            return changes.fingerprint(session)


def access_watch(ws: WebSocket, state: AppState) -> AccessWatch:
    """The app's one AccessWatch (made on first use)."""
    watch = getattr(ws.app.state, "live_access_watch", None)
    if not isinstance(watch, AccessWatch):
        watch = AccessWatch(state)
        ws.app.state.live_access_watch = watch
    return watch


class LiveSocket:
    """Serve one accepted WebSocket from the hub until the camera, the client or access ends."""

    def __init__(self, ws: WebSocket, hub: LiveHub, state: AppState, grant: FootageGrant,
                 recheck_s: float | None = None) -> None:
        self.ws, self.hub, self.state, self.grant = ws, hub, state, grant
        self.recheck_s = recheck_s or RECHECK_S
        self.changed = asyncio.Event()  # access changed in this process: decide again now
        self.watch = access_watch(ws, state)
        self.full_decisions = 0
        self.token = ws.query_params.get("access_token", "")
        self.token_expires = self._expiry(self.token)
        self.id = next_session()
        self.frames = 0
        self.viewer = None

    async def serve(self, profile: str | None) -> None:
        """Run the session (its viewer already subscribed) and write its end entry, whatever
        ends it."""
        began = time.monotonic()
        end = Ended("ended", "the live stream ended")
        try:
            end = await self._run(profile)
        except WebSocketDisconnect:
            end = Ended("ended", "the viewer closed the connection")
        except CamerahubError as exc:
            end = ended_by(exc)
        finally:
            if self.viewer is not None:
                self.hub.unsubscribe(self.viewer)
            await self._close(end)
            await asyncio.to_thread(self._audit_end, end, time.monotonic() - began)

    async def _run(self, profile: str | None) -> Ended:
        viewer = self.viewer
        assert viewer is not None
        init = await self.hub.first(viewer)
        await self.ws.send_text(json.dumps({
            "type": "start", "session": self.id, "camera": self.grant.camera_id,
            "profile": profile, "codec": codec_string(init), "recheck_s": self.recheck_s}))
        await self.ws.send_bytes(STAMP.pack(0.0) + init)
        tasks = [asyncio.create_task(coro) for coro in
                 (self._pump(), self._listen(), self._guard())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            return next(iter(done)).result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _pump(self) -> Ended:
        """Fragments to the client, on a timeline from 0, as they come."""
        origin: int | None = None
        viewer = self.viewer
        assert viewer is not None
        while True:
            item = await viewer.next()
            if item is None:
                if viewer.reason and "too slow" in viewer.reason:
                    return Ended("too-slow", viewer.reason)
                return Ended("unavailable" if viewer.reason else "ended",
                             viewer.reason or "the live stream ended")
            if not isinstance(item, Fragment):
                continue  # an init segment is sent once, at the start
            origin = item.decode_time if origin is None else origin
            await self.ws.send_bytes(STAMP.pack(item.received * 1000.0) + item.rebased(origin))
            self.frames += 1
            if item.received >= viewer.joined_wall:  # the backlog at attach is old by design
                self.hub.note_sent(item.received)

    async def _listen(self) -> Ended:
        """Token refreshes from the client; a disconnect ends the session."""
        while True:
            text = await self.ws.receive_text()
            try:
                message = json.loads(text) if len(text) <= MAX_CLIENT_MESSAGE else None
            except ValueError:
                message = None
            token = message.get("access_token") if isinstance(message, dict) \
                and message.get("type") == "token" else None
            if not isinstance(token, str) or not token:
                return Ended("invalid", "unknown message from the client", 400)
            refusal = await asyncio.to_thread(recheck_footage, self.state, token, self.grant)
            if refusal is not None:
                return ended_by(refusal)
            self.token = token
            self.token_expires = self._expiry(token)
            await self.ws.send_text(json.dumps({"type": "token-ok"}))

    def _expiry(self, token: str) -> float:
        """When the token expires (time.time()); now if it does not verify."""
        try:
            return verify_token(self.state.settings.secret_key, token).expires_at.timestamp()
        except CamerahubError:
            return time.time()

    async def _due(self, seen: tuple | None, last_full: float) -> tuple[bool, tuple | None]:
        """(decide in full now?, the fingerprint read before that decision)."""
        if self.changed.is_set() or seen is None or self.grant.basis == "grant" \
                or time.time() + self.recheck_s >= self.token_expires \
                or time.monotonic() - last_full >= FULL_RECHECK_S:
            return True, await self.watch.current()
        now = await self.watch.current()
        return now != seen, now

    async def _guard(self) -> Ended:
        """Decide again when access changes in this process, and look every recheck_s for
        what this process was not told (changes elsewhere, token expiry): token, policy,
        grants."""
        loop = asyncio.get_running_loop()
        person = self.grant.principal.person
        seen: tuple | None = None  # the fingerprint the latest full decision saw
        last_full = time.monotonic()
        # sessions that opened together (a wall) look at different moments
        first = self.recheck_s * random.uniform(0.5, 1.0)  # noqa: S311 - not a secret

        def told(users: frozenset[str] | None) -> None:  # in the committing thread
            if users is None or person in users:
                with contextlib.suppress(RuntimeError):  # the loop has gone away
                    loop.call_soon_threadsafe(self.changed.set)

        unsubscribe = changes.subscribe(told)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), first or self.recheck_s)
                first = 0.0
                full, fingerprint = await self._due(seen, last_full)
                if not full:
                    continue
                self.changed.clear()
                seen, last_full = fingerprint, time.monotonic()
                self.full_decisions += 1
                refusal = await asyncio.to_thread(recheck_footage, self.state, self.token,
                                                  self.grant)
                if refusal is not None:
                    log.info("live session %d on %s cut: %s", self.id, self.grant.camera_id,
                             refusal)
                    return ended_by(refusal)
        finally:
            unsubscribe()

    async def _close(self, end: Ended) -> None:
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.ws.send_text(json.dumps({"type": "end", "reason": end.reason,
                                                "message": end.message}))
            await self.ws.close(CLOSE_CODES.get(end.reason, 1011), end.reason)

    def _audit_end(self, end: Ended, seconds: float) -> None:
        draft = getattr(self.ws.state, STATE_KEY, None)
        if not isinstance(draft, AuditDraft):
            return
        detail = {**draft.detail, "event": "end", "session": self.id,
                  "seconds": round(seconds, 1), "frames": self.frames, "ended": end.reason}
        if self.viewer is not None and self.viewer.skipped:
            detail["skipped"] = self.viewer.skipped
        entry = replace(draft, detail=detail, error=None if end.status < 400 else end.message,
                        policy=False if end.status in (401, 403, 404) else draft.policy)
        try:
            write_draft(self.state, entry, end.status)
        except Exception:  # noqa: BLE001 - the session is over; say so loudly
            log.exception("live session %d: end entry could not be written", self.id)


async def refuse(ws: WebSocket, exc: CamerahubError) -> None:
    """Accept only to say why not, then close (the refusal was audited by authorize)."""
    await ws.accept()
    await tell_end(ws, exc)


async def tell_end(ws: WebSocket, exc: CamerahubError) -> None:
    """Say why an accepted connection ends, then close it."""
    end = ended_by(exc)
    with contextlib.suppress(Exception):
        await ws.send_text(json.dumps({"type": "end", "reason": end.reason,
                                       "message": end.message}))
        await ws.close(CLOSE_CODES.get(end.reason, 1008), end.reason)


async def serve_live(ws: WebSocket, hub: LiveHub, state: AppState) -> None:
    """The WebSocket route's body: refused connections are told why; allowed ones are
    audited as a start (before any byte of video), served, and audited as an end."""
    refusal = getattr(ws.state, "ws_refusal", None)
    grant = getattr(ws.state, "footage", None)
    if refusal is not None or not isinstance(grant, FootageGrant):
        await refuse(ws, refusal or NotAuthenticated("not authenticated"))
        return
    profile = ws.query_params.get("profile") or None
    if profile is not None and not PROFILE.fullmatch(profile):
        await refuse(ws, LiveUnavailableInvalid("profile must be 1-32 letters, digits, - or _"))
        return
    draft = getattr(ws.state, STATE_KEY, None)
    session = LiveSocket(ws, hub, state, grant)
    # The access is decided: the upstream starts opening (RTSP, the first keyframe) and the
    # handshake completes at once, while the start entry is written; no byte of video
    # leaves before that entry exists. Accepting first matters: a browser opens one socket
    # to a server at a time (RFC 6455 4.1), so each tile's handshake waits for the previous
    # tile's, and a wall's last tile waited for every other tile's database commit.
    try:
        session.viewer = hub.subscribe(grant.camera_id, asyncio.get_running_loop(), profile)
    except LiveUnavailable as exc:
        await refuse(ws, exc)
        return
    try:
        await ws.accept()
    except BaseException:
        hub.unsubscribe(session.viewer)
        raise
    if isinstance(draft, AuditDraft):
        draft.detail.update({"event": "start", "session": session.id, "profile": profile})
        try:
            await asyncio.to_thread(write_draft, state, draft, 101)
        except Exception:  # noqa: BLE001 - no entry, no footage
            log.exception("live session start could not be audited")
            hub.unsubscribe(session.viewer)
            await tell_end(ws, LiveUnavailable("the access could not be recorded"))
            return
    await session.serve(profile)


class LiveUnavailableInvalid(CamerahubError):
    """A live request that cannot be understood (a bad profile name)."""

    kind = ErrorKind.INVALID
