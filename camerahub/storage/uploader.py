"""Uploader: a bounded worker pool that moves ready spool segments into a SegmentStore.

Oldest first, so after an outage the backlog drains in time order and the index fills
in without holes. A StorageUnavailable is retried forever with capped exponential
backoff and jitter (evidence is never dropped); a segment leaves the spool only after
`put` verified it and `on_uploaded` (the index writer) returned, so the index learns of
every object at least once; put is idempotent, so a retry after a lost reply is harmless.

Before a put, a segment whose file is not what its sidecar says, or a .ts file that is not
whole 188-byte TS packets, is refused, and so is one the `admit` hook refuses (the
recorder's: overlapping footage already indexed); the index writer may refuse one too by
raising SegmentRefused. Refused segments go to quarantine with the reason, never retried.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable
from pathlib import Path

from camerahub.retry import Backoff
from camerahub.storage.base import SegmentStore
from camerahub.storage.errors import (
    ChecksumMismatch,
    InvalidKey,
    ObjectConflict,
    SegmentRefused,
    StorageError,
    StorageUnavailable,
)
from camerahub.storage.spool import Spool, SpoolItem
from camerahub.storage.spoolfiles import unfit_for_upload

log = logging.getLogger(__name__)

# These will not heal by retrying: keep the bytes in quarantine for a human.
_QUARANTINE_ERRORS = (ChecksumMismatch, ObjectConflict, InvalidKey, SegmentRefused)

UploadedCallback = Callable[[SpoolItem, str, str], None]
RetryCallback = Callable[[SpoolItem, StorageError, float], None]
# Says why a segment must not be uploaded, or None to let it through.
AdmitCallback = Callable[[SpoolItem], "str | None"]
QuarantineCallback = Callable[[SpoolItem, str], None]


# The uploader's name for the shared schedule: 1 s doubling to 60 s, ±25 % jitter.
RetryPolicy = Backoff


class Uploader:
    """Uploads ready segments with `workers` threads; call start(), notify(), stop()."""

    def __init__(
        self,
        spool: Spool,
        store: SegmentStore,
        on_uploaded: UploadedCallback,
        workers: int = 2,
        retry: RetryPolicy | None = None,
        on_retry: RetryCallback | None = None,
        rescan_s: float = 30.0,
        admit: AdmitCallback | None = None,
        on_quarantine: QuarantineCallback | None = None,
    ) -> None:
        self.spool, self.store = spool, store
        self.on_uploaded, self.on_retry = on_uploaded, on_retry
        self.admit, self.on_quarantine = admit, on_quarantine
        self.retry = retry or RetryPolicy()
        self.workers, self.rescan_s = workers, rescan_s
        self._heap: list[tuple] = []
        self._known: set[Path] = set()
        self._busy = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Queue what is already in ready/ and start the workers."""
        self.rescan()
        for n in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"uploader-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the uploads in flight; what is left stays in the spool."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def notify(self, segment: Path | None = None) -> None:
        """Tell the uploader a segment is ready (the segmenter's callback), or rescan."""
        if segment is None:
            self.rescan()
            return
        item = self.spool.load(Path(segment))
        if item is not None:
            self._push(item)
            self.spool.check_limit(item.bytes)

    def rescan(self) -> None:
        """Queue every ready segment not yet known."""
        for item in self.spool.ready_items():
            self._push(item)
        self.spool.check_limit(force=True)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or in flight (for tests and shutdown)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._heap and not self._busy, timeout)

    def _push(self, item: SpoolItem) -> None:
        """Add an item unless it is already queued or in flight."""
        with self._cond:
            if item.path in self._known:
                return
            self._known.add(item.path)
            heapq.heappush(self._heap, (*item.sort_key, id(item), item))
            self._cond.notify()

    def _take(self) -> SpoolItem | None:
        """The oldest queued item, waiting up to rescan_s for one."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._heap or self._stop.is_set(), self.rescan_s):
                return None
            if self._stop.is_set():
                return None
            self._busy += 1
            return heapq.heappop(self._heap)[-1]

    def _done(self, item: SpoolItem) -> None:
        """Forget a finished item and wake anyone waiting for idleness."""
        with self._cond:
            self._known.discard(item.path)
            self._busy -= 1
            self._cond.notify_all()

    def _work(self) -> None:
        """Worker loop: take, upload, repeat; rescan when idle to catch missed files."""
        while not self._stop.is_set():
            item = self._take()
            if item is None:
                if not self._stop.is_set():
                    self.rescan()
                continue
            try:
                self._upload_with_retry(item)
            except Exception:
                log.exception("uploader: unexpected failure on %s; left in spool", item.path)
            finally:
                self._done(item)

    def _upload_with_retry(self, item: SpoolItem) -> None:
        """Try until uploaded, quarantined, or the uploader stops."""
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            try:
                self._upload_once(item)
                return
            except _QUARANTINE_ERRORS as exc:
                self._quarantine(item, f"{type(exc).__name__}: {exc}")
                return
            except StorageError as exc:
                self._backoff(item, exc, attempt)

    def _upload_once(self, item: SpoolItem) -> None:
        """Check, put, record in the index, then free the spool space."""
        if not item.path.exists():
            return  # already uploaded by an earlier run or worker
        reason = unfit_for_upload(item) or self._admission(item)
        if reason:
            raise SegmentRefused(reason)
        key = item.key
        # A segment untouched since the spool hashed it as it was written is not read and
        # hashed once more to check it; a recovered or changed one is.
        written = self.store.put(key, item.path, item.sha256, item.metadata(),
                                 verified=item.unchanged_since_sealed())
        log.info("uploaded %s (%s)", key, "new" if written else "already present")
        try:
            self.on_uploaded(item, key, item.sha256)
        except SegmentRefused:
            # Stored but refused by the index (a race the admit check cannot see): the
            # object stays where it is, unindexed; the spool copy goes to quarantine.
            log.error("stored %s but the index refused it; object left unindexed", key)
            raise
        except Exception as exc:
            # The index must learn of every object: keep the spool file and retry.
            raise StorageError(f"on_uploaded failed for {key}: {exc}") from exc
        self.spool.remove(item)

    def _admission(self, item: SpoolItem) -> str | None:
        """The admit callback's verdict; its failure (the index's database is restarting)
        is a StorageError, so the segment is retried with backoff instead of being dropped
        from the queue until the next rescan."""
        if self.admit is None:
            return None
        try:
            return self.admit(item)
        except Exception as exc:
            raise StorageError(f"admission check failed for {item.path.name}: {exc}") from exc

    def _quarantine(self, item: SpoolItem, reason: str) -> None:
        """Keep a refused segment for a human and say so."""
        self.spool.quarantine(item.path, reason)
        if self.on_quarantine is not None:
            try:
                self.on_quarantine(item, reason)
            except Exception:
                log.exception("on_quarantine callback failed for %s", item.path.name)

    def _backoff(self, item: SpoolItem, exc: StorageError, attempt: int) -> None:
        """Wait before the next attempt, waking early on stop."""
        delay = self.retry.delay(attempt)
        level = logging.WARNING if isinstance(exc, StorageUnavailable) else logging.ERROR
        log.log(level, "upload of %s failed (attempt %d), retry in %.1f s: %s",
                item.path.name, attempt, delay, exc)
        if self.on_retry is not None:
            self.on_retry(item, exc, delay)
        self._stop.wait(delay)
