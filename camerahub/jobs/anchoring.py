"""The audit chain's head, anchored outside the database every few minutes and at shutdown.

Each round verifies only what was appended since the newest anchor, then saves the new head
to every sink: the append-only local anchor log and, where configured, the segment store
(write-once objects, under legal hold where the bucket has Object Lock, so not even the
bucket's owner can delete them before their retention ends). A broken chain is logged as an
error and written as an `audit.chain_broken` event, once per break.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from camerahub.audit.anchors import Anchor, AnchorSink, head_anchor, newest, verify_since
from camerahub.audit.log import VerifyResult
from camerahub.db import models as m
from camerahub.storage import SegmentStore, StorageError

log = logging.getLogger(__name__)
ANCHOR_PREFIX = "_camerahub/audit-anchors/"


class StoreAnchors:
    """Anchors as write-once objects `_camerahub/audit-anchors/{seq:012d}-{hash16}.json`."""

    def __init__(self, store: SegmentStore):
        self.store = store
        self.name = f"store {type(store).__name__}"

    def save(self, anchor: Anchor) -> None:
        """Put the anchor (never over another) and hold it where the store can."""
        key = f"{ANCHOR_PREFIX}{anchor.seq:012d}-{anchor.hash[:16]}.json"
        body = (anchor.to_json() + "\n").encode()
        with tempfile.TemporaryDirectory(prefix="camerahub-anchor-") as tmp:
            path = Path(tmp) / "anchor.json"
            path.write_bytes(body)
            self.store.put(key, path, hashlib.sha256(body).hexdigest(),
                           {"kind": "audit-anchor"})
        if self.store.legal_hold_supported:
            self.store.set_legal_hold(key, True)

    def latest(self) -> Anchor | None:
        """The anchor with the highest seq (keys sort by seq)."""
        last = None
        for key in self.store.iter_keys(ANCHOR_PREFIX):
            last = key
        if last is None:
            return None
        with self.store.open(last) as fh:
            return Anchor.from_json(fh.read(4096).decode("utf-8", "replace"))


def latest_of(sinks: Sequence[AnchorSink]) -> Anchor | None:
    """The newest anchor any sink holds; a sink that cannot be read is logged and skipped."""
    found = []
    for sink in sinks:
        try:
            found.append(sink.latest())
        except (OSError, ValueError, StorageError) as exc:
            log.warning("audit anchors: cannot read %s: %s", sink.name, exc)
    return newest(found)


class AuditAnchoring:
    """Verify what is new in the chain and anchor its head, periodically and at stop()."""

    def __init__(self, sessions: sessionmaker[Session], sinks: Sequence[AnchorSink],
                 interval_s: float):
        self.sessions = sessions
        self.sinks = list(sinks)
        self.interval_s = interval_s
        self.broken: str | None = None
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="audit-anchor", daemon=True)

    def start(self) -> None:
        """Anchor now, then every interval."""
        self.thread.start()

    def stop(self) -> None:
        """Stop the loop and anchor the head once more (the shutdown anchor)."""
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(60)
        self.run_once()

    def run_once(self) -> VerifyResult | None:
        """One round; returns what the verification found (None if it could not run)."""
        try:
            anchor = latest_of(self.sinks)
            with self.sessions() as session:
                result = verify_since(session, anchor)
        except Exception:  # noqa: BLE001 - the database may be briefly away; next round
            log.exception("audit anchoring: verification failed to run")
            return None
        if not result.ok:
            self._report_broken(result)
            return result
        self.broken = None  # whole again (e.g. restored from a backup): the alarm clears
        if anchor is None or result.entries > anchor.seq:
            self._save(head_anchor(result))
        return result

    def _save(self, anchor: Anchor) -> None:
        for sink in self.sinks:
            try:
                sink.save(anchor)
            except (OSError, StorageError) as exc:
                log.error("audit anchoring: cannot write to %s: %s", sink.name, exc)

    def _report_broken(self, result: VerifyResult) -> None:
        """Log and record a broken chain once per distinct break (not every round)."""
        why = f"audit chain broken at entry {result.first_bad}: {result.problem}"
        if why == self.broken:
            return
        self.broken = why
        log.error("%s", why)
        with self.sessions.begin() as session:
            session.add(m.Event(kind="audit.chain_broken", severity="high", message=why[:1000],
                                data={"first_bad": result.first_bad}))

    def _loop(self) -> None:
        self.run_once()
        while not self.stop_event.wait(self.interval_s):
            self.run_once()
