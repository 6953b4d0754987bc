"""Rebuild the segment index from the store: every well-formed key the index lacks."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.storage import SegmentStore, parse_segment_key

log = logging.getLogger(__name__)
OUTCOMES = ("added", "present", "skipped", "overlapping")


def reindex_key(sessions: sessionmaker[Session], store: SegmentStore, key: str) -> str:
    """Index one stored key: "added", "present" (already indexed), "skipped" (not ours) or
    "overlapping" (its time range overlaps an indexed segment of its camera: not indexed).

    A key without a recorded SHA-256 is skipped: the index must never vouch for bytes
    nobody hashed. StorageError propagates.
    """
    try:
        parsed = parse_segment_key(key)
    except ValueError:
        return "skipped"
    with sessions.begin() as s:
        if s.scalar(select(m.Segment.id).where(m.Segment.key == key)) is not None:
            return "present"
        head = store.head(key)
        if head is None or not head.sha256:
            return "skipped"
        try:
            index.add_segment(s, camera_id=parsed.camera, site_id=parsed.site,
                              start=parsed.start_utc,
                              end=parsed.start_utc + timedelta(milliseconds=parsed.duration_ms),
                              nbytes=head.size, sha256=head.sha256, key=key)
        except index.SegmentOverlap as exc:
            log.warning("not indexed: %s", exc)
            return "overlapping"
    return "added"


def rebuild_index(sessions: sessionmaker[Session], store: SegmentStore) -> dict[str, int]:
    """List the whole store and index what is missing; counts per outcome plus "listed".

    StorageError (the store cannot be listed or read) propagates with the work so far kept.
    """
    counts = {"listed": 0, **dict.fromkeys(OUTCOMES, 0)}
    for key in store.iter_keys(""):
        counts["listed"] += 1
        counts[reindex_key(sessions, store, key)] += 1
    return counts
