"""A live wall over ONE WebSocket: every tile multiplexed, each decided and audited alone.

A browser opens one WebSocket to a server at a time (RFC 6455 4.1, the connecting state),
so a wall of one socket per tile handshaked its tiles one after another. Here a page opens
one socket and subscribes its tiles on it. Protocol (WS /api/v1/live/wall.ws; also in
docs/architecture.md, "Live view", and the bounds in docs/security.md):

- client, text, at most MAX_MESSAGE bytes of JSON:
  {"type": "subscribe", "tile": n, "camera": id, "access_token": "<media token of it>",
   "profile": "main" (optional), "reason": "..." (optional)}; n is 1-65535, chosen by the
  client and not in use on this socket;
  {"type": "unsubscribe", "tile": n};
  {"type": "token", "tile": n, "access_token": "<a fresh media token>"}.
- server, text: {"type": "start", "tile", "session", "camera", "profile", "codec",
  "recheck_s"} before the tile's init segment; {"type": "end", "tile", "reason",
  "message"} when a tile ends (refused, cut, camera gone, too slow, too many tiles: the
  others go on); {"type": "token-ok", "tile"}; {"type": "error", "reason", "message"}
  just before the server closes the socket for a control message it cannot go on after.
- server, binary: HEADER (big-endian uint16 tile, float64 when the hub received the frame
  in ms since the epoch, 0 for the init segment), then the init segment or one fragment.

Each subscription is decided like a tile's own live.ws handshake (deps.authorize_tile),
audited as a start entry before any of its video leaves and an end entry however it ends,
and decided again as livesocket.LiveSocket is (at once on changes in this process, on the
shared fingerprint every RECHECK_S, before its token expires). Each tile has its own bounded
queue (live.Viewer): a socket that backs up makes tiles skip to their next keyframe, and a
tile that still cannot keep up ends as too-slow; one writer takes one item per tile in turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import struct
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from camerahub.authz import changes
from camerahub.authz.tokens import verify_token
from camerahub.errors import CamerahubError
from camerahub.live import LiveHub, LiveUnavailable, Viewer
from camerahub.live.boxes import Fragment
from camerahub.live.remux import codec_string

from . import livesocket
from .auditing import AuditDraft, write_draft
from .deps import FootageGrant, authorize_tile, client_of, recheck_footage
from .errors import status_of
from .livesocket import PROFILE, Ended, access_watch, ended_by
from .state import AppState

log = logging.getLogger(__name__)
_walls = itertools.count(1)
HEADER = struct.Struct(">Hd")
MAX_TILES = 36  # the largest wall (25), an enlarged tile beside it, and some room
MAX_MESSAGE = 4096
MAX_CAMERA_ID = 63
MAX_TOKEN = 2048
MAX_TILE_ID = 0xFFFF
MAX_REFUSED = 200  # refused subscriptions on one socket before it is closed
IDLE_S = 60.0  # a socket without any tile this long is closed
CLOSE_INVALID, CLOSE_TOO_BIG, CLOSE_REFUSED, CLOSE_ERROR = 4400, 1009, 4429, 1011


class ProtocolError(Exception):
    """A control message the socket cannot go on after: told, then the socket closes."""

    def __init__(self, message: str, code: int = CLOSE_INVALID, reason: str = "invalid"):
        super().__init__(message)
        self.code, self.reason = code, reason


@dataclass(eq=False)
class WallTile:
    """One subscribed tile: its decision, its audit draft and the hub's viewer."""

    id: int
    grant: FootageGrant
    draft: AuditDraft
    token: str
    token_expires: float
    profile: str | None
    viewer: Viewer
    session: int
    began: float = field(default_factory=time.monotonic)
    frames: int = 0
    origin: int | None = None
    started: bool = False
    seen: tuple | None = None  # the fingerprint its latest full decision saw
    last_full: float = field(default_factory=time.monotonic)


def tile_id(message: dict) -> int:
    """The message's tile number; ProtocolError if it is not one."""
    tile = message.get("tile")
    if isinstance(tile, bool) or not isinstance(tile, int) or not 1 <= tile <= MAX_TILE_ID:
        raise ProtocolError(f"tile must be a number from 1 to {MAX_TILE_ID}")
    return tile


def subscription_problem(message: dict) -> str | None:
    """What is wrong with a subscription's fields (the tile is refused as invalid), or None."""
    camera, token = message.get("camera"), message.get("access_token")
    profile, reason = message.get("profile"), message.get("reason")
    if not isinstance(camera, str) or not 1 <= len(camera) <= MAX_CAMERA_ID:
        return f"camera must be a camera id of 1-{MAX_CAMERA_ID} characters"
    if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN:
        return "access_token must be the camera's media token"
    if profile is not None and (not isinstance(profile, str) or not PROFILE.fullmatch(profile)):
        return "profile must be 1-32 letters, digits, - or _"
    if reason is not None and not isinstance(reason, str):
        return "reason must be text"
    return None


def parse(text: str | None) -> dict:
    """A control message as a dict; ProtocolError for anything else."""
    if text is None:
        raise ProtocolError("control messages are JSON text")
    if len(text) > MAX_MESSAGE:
        raise ProtocolError(f"a control message is at most {MAX_MESSAGE} bytes",
                            CLOSE_TOO_BIG, "too-big")
    try:
        message = json.loads(text)
    except ValueError:
        raise ProtocolError("a control message must be JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError("a control message must be a JSON object")
    return message


class WallSocket:
    """Serve one accepted wall socket until the client leaves or breaks the protocol."""

    def __init__(self, ws: WebSocket, hub: LiveHub, state: AppState) -> None:
        self.ws, self.hub, self.state = ws, hub, state
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()  # any tile's viewer has items
        self.changed = asyncio.Event()  # access changed in this process
        self.watch = access_watch(ws, state)
        self.tiles: dict[int, WallTile] = {}
        self.pending: set[int] = set()  # subscriptions being decided
        self.due: set[int] = set()  # tiles to decide again at once
        self.refused = 0
        self.idle_since: float | None = time.monotonic()
        self.closing = False
        self.id = next(_walls)  # in the audit entries of its tiles: which socket served them
        self._send_lock = asyncio.Lock()
        self._opening: set[asyncio.Task] = set()
        self._audits: set[asyncio.Task] = set()
        self.handlers: dict[str, Callable[[dict], Coroutine[Any, Any, None]]] = {
            "subscribe": self._subscribe, "unsubscribe": self._unsubscribe,
            "token": self._token}

    # --- the socket ------------------------------------------------------------------------

    async def serve(self) -> None:
        """Run until the client leaves or breaks the protocol; end (and audit) every tile."""
        tasks = [asyncio.create_task(c) for c in (self._pump(), self._listen(), self._guard())]
        code, error = 1000, None
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            exc = next(iter(done)).exception()
            if isinstance(exc, ProtocolError):
                code, error = exc.code, exc
            elif exc is not None and not isinstance(exc, WebSocketDisconnect):
                log.error("live wall socket failed", exc_info=exc)
                code = CLOSE_ERROR
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._finish(code, error)

    async def _finish(self, code: int, error: ProtocolError | None) -> None:
        """Let subscriptions being decided finish, end every tile, close the socket."""
        self.closing = True
        await asyncio.gather(*self._opening, return_exceptions=True)
        why = Ended("ended", str(error)) if error else Ended("ended", "the wall was closed")
        for tile in list(self.tiles.values()):
            await self._end(tile, why, tell=False)
        with contextlib.suppress(Exception):  # the client may be gone already
            if error is not None:
                await self._send_text({"type": "error", "reason": error.reason,
                                       "message": str(error)})
            await self.ws.close(code, error.reason if error else None)
        await asyncio.gather(*self._audits, return_exceptions=True)

    async def _send_text(self, message: dict) -> None:
        async with self._send_lock:
            await self.ws.send_text(json.dumps(message))

    async def _send_bytes(self, data: bytes) -> None:
        async with self._send_lock:
            await self.ws.send_bytes(data)

    async def _listen(self) -> None:
        """Control messages, one at a time; ProtocolError ends the socket."""
        while True:
            message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            control = parse(message.get("text"))
            kind = control.get("type")
            handler = self.handlers.get(kind) if isinstance(kind, str) else None
            if handler is None:
                raise ProtocolError("unknown message type")
            await handler(control)

    # --- tiles -----------------------------------------------------------------------------

    async def _subscribe(self, message: dict) -> None:
        tile = tile_id(message)
        if self.refused > MAX_REFUSED:
            raise ProtocolError(f"more than {MAX_REFUSED} tiles refused on this socket",
                                CLOSE_REFUSED, "too-many-refused")
        if tile in self.tiles or tile in self.pending:
            raise ProtocolError(f"tile {tile} is in use on this socket")
        if len(self.tiles) + len(self.pending) >= MAX_TILES:
            await self._tell(tile, Ended("too-many", f"at most {MAX_TILES} tiles on one socket",
                                         429))
            return
        problem = subscription_problem(message)
        if problem is not None:
            await self._tell(tile, Ended("invalid", problem, 400))
            return
        self.pending.add(tile)
        self.idle_since = None
        task = asyncio.create_task(self._open(tile, message))
        self._opening.add(task)
        task.add_done_callback(self._opening.discard)

    async def _open(self, tile: int, message: dict) -> None:
        """Decide, audit the start, attach to the hub (decisions run side by side)."""
        camera, token, profile = message["camera"], message["access_token"], message.get("profile")
        draft = AuditDraft(action="live", client=client_of(self.ws), path=self.ws.url.path,
                           method="WEBSOCKET", camera_id=camera)
        try:
            try:
                grant = await asyncio.to_thread(authorize_tile, self.state, token, camera,
                                                (message.get("reason") or "").strip() or None,
                                                draft)
                viewer = self.hub.subscribe(camera, self.loop, profile, self.wake)
            except CamerahubError as exc:
                await self._refuse(tile, draft, exc)
                return
            except Exception:  # noqa: BLE001 - the database failed: this tile ends, not all
                log.exception("live tile on %s could not be decided", camera)
                await self._tell(tile, Ended("unavailable", "the access could not be decided",
                                             503))
                return
            session = livesocket.next_session()
            draft.detail.update({"event": "start", "session": session, "profile": profile,
                                 "tile": tile, "wall": self.id})
            try:
                await asyncio.to_thread(write_draft, self.state, draft, 101)
            except Exception:  # noqa: BLE001 - no entry, no footage
                log.exception("live tile start could not be audited")
                self.hub.unsubscribe(viewer)
                await self._tell(tile, ended_by(LiveUnavailable("the access could not be "
                                                                "recorded")))
                return
            left = tile not in self.pending  # unsubscribed while being decided
            self.tiles[tile] = WallTile(tile, grant, draft, token, self._expiry(token),
                                        profile, viewer, session)
            if left:
                await self._end(self.tiles[tile], Ended("ended", "the viewer left the tile"),
                                tell=False)
            self.wake.set()
        finally:
            self.pending.discard(tile)
            self._mark_idle()

    async def _refuse(self, tile: int, draft: AuditDraft, exc: CamerahubError) -> None:
        """A subscription refused: audited as its handshake would be, told on its tile."""
        draft.error = str(exc)
        try:
            await asyncio.to_thread(write_draft, self.state, draft, status_of(exc.kind))
        except Exception:  # noqa: BLE001 - the refusal stands; say so loudly
            log.exception("live tile refusal could not be audited")
        self.refused += 1
        await self._tell(tile, ended_by(exc))

    async def _unsubscribe(self, message: dict) -> None:
        tile = tile_id(message)
        self.pending.discard(tile)
        if tile in self.tiles:
            await self._end(self.tiles[tile], Ended("ended", "the viewer left the tile"),
                            tell=False)

    async def _token(self, message: dict) -> None:
        tile = self.tiles.get(tile_id(message))
        token = message.get("access_token")
        if tile is None:
            return  # ended meanwhile; its end message is on its way
        if not isinstance(token, str) or not 1 <= len(token) <= MAX_TOKEN:
            raise ProtocolError("access_token must be a media token")
        refusal = await asyncio.to_thread(recheck_footage, self.state, token, tile.grant)
        if refusal is not None:
            await self._end(tile, ended_by(refusal))
            return
        tile.token, tile.token_expires = token, self._expiry(token)
        await self._send_text({"type": "token-ok", "tile": tile.id})

    async def _tell(self, tile: int, end: Ended) -> None:
        with contextlib.suppress(Exception):  # the client may be gone
            await self._send_text({"type": "end", "tile": tile, "reason": end.reason,
                                   "message": end.message})

    async def _end(self, tile: WallTile, end: Ended, tell: bool = True) -> None:
        """Detach the tile, tell the client (unless it asked), audit the end."""
        if self.tiles.get(tile.id) is not tile:
            return
        del self.tiles[tile.id]
        self.hub.unsubscribe(tile.viewer)
        self._mark_idle()
        if tell:
            await self._tell(tile.id, end)
        task = asyncio.create_task(asyncio.to_thread(self._audit_end, tile, end,
                                                     time.monotonic() - tile.began))
        self._audits.add(task)
        task.add_done_callback(self._audits.discard)

    def _mark_idle(self) -> None:
        if not self.tiles and not self.pending and self.idle_since is None:
            self.idle_since = time.monotonic()

    def _expiry(self, token: str) -> float:
        try:
            return verify_token(self.state.settings.secret_key, token).expires_at.timestamp()
        except CamerahubError:
            return time.time()

    def _audit_end(self, tile: WallTile, end: Ended, seconds: float) -> None:
        detail = {**tile.draft.detail, "event": "end", "seconds": round(seconds, 1),
                  "frames": tile.frames, "ended": end.reason}
        if tile.viewer.skipped:
            detail["skipped"] = tile.viewer.skipped
        entry = replace(tile.draft, detail=detail,
                        error=None if end.status < 400 else end.message,
                        policy=False if end.status in (401, 403, 404) else tile.draft.policy)
        try:
            write_draft(self.state, entry, end.status)
        except Exception:  # noqa: BLE001 - the tile is over; say so loudly
            log.exception("live tile %d: end entry could not be written", tile.session)

    # --- video out -------------------------------------------------------------------------

    async def _pump(self) -> None:
        """One item per tile in turn, so a tile with a burst (a keyframe) delays no other
        tile by more than one item; wait on the tiles' shared event when all are empty."""
        while True:
            self.wake.clear()
            moved = False
            for tile in list(self.tiles.values()):
                if self.tiles.get(tile.id) is not tile:
                    continue
                item, ended = tile.viewer.take()
                if item is not None:
                    await self._send_item(tile, item)
                    moved = True
                elif ended:
                    await self._end(tile, self._viewer_end(tile.viewer))
            if not moved:
                await self.wake.wait()

    async def _send_item(self, tile: WallTile, item: bytes | Fragment) -> None:
        if not isinstance(item, Fragment):
            if not tile.started:  # the init segment: the tile's start, then its bytes
                tile.started = True
                await self._send_text({
                    "type": "start", "tile": tile.id, "session": tile.session,
                    "camera": tile.grant.camera_id, "profile": tile.profile,
                    "codec": codec_string(item), "recheck_s": livesocket.RECHECK_S})
                await self._send_bytes(HEADER.pack(tile.id, 0.0) + item)
            return
        if not tile.started:
            return
        tile.origin = item.decode_time if tile.origin is None else tile.origin
        await self._send_bytes(HEADER.pack(tile.id, item.received * 1000.0)
                               + item.rebased(tile.origin))
        tile.frames += 1
        if item.received >= tile.viewer.joined_wall:  # the backlog at attach is old by design
            self.hub.note_sent(item.received)

    @staticmethod
    def _viewer_end(viewer: Viewer) -> Ended:
        if viewer.reason and "too slow" in viewer.reason:
            return Ended("too-slow", viewer.reason)
        return Ended("unavailable" if viewer.reason else "ended",
                     viewer.reason or "the live stream ended")

    # --- access, again ---------------------------------------------------------------------

    async def _guard(self) -> None:
        """Decide tiles again as livesocket.LiveSocket does; end tiles that found no video
        in time; close a socket left without tiles."""
        def told(users: frozenset[str] | None) -> None:  # in the committing thread
            with contextlib.suppress(RuntimeError):  # the loop has gone away
                self.loop.call_soon_threadsafe(self._told, users)

        unsubscribe = changes.subscribe(told)
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), livesocket.RECHECK_S)
                self.changed.clear()
                await self._recheck()
                await self._expire_starts()
                if self.idle_since is not None \
                        and time.monotonic() - self.idle_since > IDLE_S:
                    raise ProtocolError(f"no tile for {IDLE_S:.0f} s", 1000, "idle")
        finally:
            unsubscribe()

    def _told(self, users: frozenset[str] | None) -> None:
        for tile in self.tiles.values():
            if users is None or tile.grant.principal.person in users:
                self.due.add(tile.id)
        if self.due:
            self.changed.set()

    def _is_due(self, tile: WallTile, fingerprint: tuple, now: float) -> bool:
        return tile.id in self.due or tile.seen is None or tile.grant.basis == "grant" \
            or time.time() + livesocket.RECHECK_S >= tile.token_expires \
            or now - tile.last_full >= livesocket.FULL_RECHECK_S or tile.seen != fingerprint

    async def _recheck(self) -> None:
        """One shared fingerprint; full decisions (in one thread hop) for the tiles due."""
        if not self.tiles:
            return
        fingerprint = await self.watch.current()
        now = time.monotonic()
        due = [t for t in self.tiles.values() if self._is_due(t, fingerprint, now)]
        self.due.clear()
        if not due:
            return
        refusals = await asyncio.to_thread(
            lambda: [recheck_footage(self.state, t.token, t.grant) for t in due])
        for tile, refusal in zip(due, refusals, strict=True):
            tile.seen, tile.last_full = fingerprint, now
            if refusal is not None:
                log.info("live tile %d on %s cut: %s", tile.session, tile.grant.camera_id,
                         refusal)
                await self._end(tile, ended_by(refusal))

    async def _expire_starts(self) -> None:
        limit = self.hub.options.first_item_timeout_s
        for tile in list(self.tiles.values()):
            if not tile.started and time.monotonic() - tile.began > limit:
                await self._end(tile, ended_by(LiveUnavailable(
                    f"camera {tile.grant.camera_id}: no video in time")))


async def serve_wall(ws: WebSocket, hub: LiveHub, state: AppState) -> None:
    """The wall route's body: accept at once (nothing is decided on the socket itself; each
    subscription carries its media token) and serve."""
    await ws.accept()
    await WallSocket(ws, hub, state).serve()
