"""The one check of stored footage the reliability suites share.

`check_footage(store, sessions)` reads every object back and every index row, and says what
is wrong, in words, as a list (empty: all is well):

- the store's keys and the index's keys are the same set (nothing stored and not indexed,
  nothing indexed and not stored) and no key twice (nothing duplicated);
- each object's SHA-256, computed here with hashlib, equals the index row's and the one the
  store keeps with the object (its metadata), and its size the row's;
- each object is whole 188-byte TS packets and decodes to its last frame with PyAV, the
  decoder told to fail on any bitstream error (`err_detect=explode`), every packet giving a
  frame, and as many frames as the object's metadata declares; `ffmpeg_every=N` also runs
  the ffmpeg command (an independent player) on every Nth object;
- one camera's segments never overlap.

It never trusts the writer's own measurements: they are only compared against.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import av
from sqlalchemy import select

from camerahub.db import models as m
from tests.support.media import ffmpeg_errors

TS_PACKET = 188


@dataclass
class FootageReport:
    """What check_footage found: the problems, and what it looked at."""

    problems: list[str] = field(default_factory=list)
    objects: int = 0
    frames: int = 0
    seconds: float = 0.0
    segments: list[m.Segment] = field(default_factory=list)

    def __bool__(self) -> bool:  # truthy when all is well
        return not self.problems


def decode_problem(body: bytes, declared_frames: int | None = None) -> str | None:
    """Why these bytes are not a whole MPEG-TS that decodes to its last frame, or None."""
    if not body:
        return "empty"
    if len(body) % TS_PACKET:
        return f"{len(body)} bytes is not a whole number of TS packets"
    try:
        with av.open(io.BytesIO(body), format="mpegts") as container:
            if not container.streams.video:
                return "no video stream"
            stream = container.streams.video[0]
            stream.codec_context.options = {"err_detect": "crccheck+bitstream+buffer+explode"}
            packets = frames = 0
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                packets += 1
                frames += len(packet.decode())
            frames += len(stream.codec_context.decode(None))  # the decoder's last frames
    except av.error.FFmpegError as exc:
        return f"does not decode: {exc}"
    if packets == 0 or frames != packets:
        return f"{packets} video packets decoded to {frames} frames"
    if declared_frames is not None and declared_frames != frames:
        return f"declares {declared_frames} frames, decodes to {frames}"
    return None


def _rows(sessions) -> list[m.Segment]:
    with sessions() as s:
        return list(s.scalars(select(m.Segment).order_by(m.Segment.camera_id, m.Segment.start)))


def check_footage(store, sessions, ffmpeg_every: int = 0, decode_every: int = 1
                  ) -> FootageReport:
    """Check every stored object against the index and decode it (see the module doc).

    `decode_every=N` decodes only every Nth object (each is still read and hashed): for
    a long soak whose tens of thousands of objects would take longer to decode than to
    record."""
    report = FootageReport()
    rows = _rows(sessions)
    report.segments = rows
    # footage only: the store's own objects (audit anchors under `_camerahub/`) are not
    keys = [k for k in store.iter_keys("") if not k.startswith("_camerahub/")]
    problems = report.problems
    if len(keys) != len(set(keys)):
        problems.append(f"store lists {len(keys) - len(set(keys))} key(s) twice")
    by_key: dict[str, m.Segment] = {}
    for row in rows:
        if row.key in by_key:
            problems.append(f"index has {row.key} twice")
        by_key[row.key] = row
    problems += [f"stored, not indexed: {k}" for k in sorted(set(keys) - set(by_key))]
    problems += [f"indexed, not stored: {k}" for k in sorted(set(by_key) - set(keys))]
    with tempfile.TemporaryDirectory() as tmp:
        for n, key in enumerate(sorted(set(keys) & set(by_key))):
            problem = _check_object(store, key, by_key[key], report,
                                    Path(tmp) if ffmpeg_every and n % ffmpeg_every == 0 else None,
                                    decode=n % max(1, decode_every) == 0)
            if problem:
                problems.append(f"{key}: {problem}")
    problems += overlaps(rows)
    return report


def _check_object(store, key: str, row: m.Segment, report: FootageReport,
                  ffmpeg_dir: Path | None, decode: bool = True) -> str | None:
    """Why one stored object is not the evidence its row describes, or None."""
    with store.open(key) as fh:
        body = fh.read()
    report.objects += 1
    sha = hashlib.sha256(body).hexdigest()
    info = store.head(key)
    if sha != row.sha256:
        return f"SHA-256 {sha} but the index says {row.sha256}"
    if info is None or info.sha256 != sha:
        return f"SHA-256 {sha} but the store keeps {info.sha256 if info else None}"
    if len(body) != row.bytes:
        return f"{len(body)} bytes but the index says {row.bytes}"
    declared = (info.metadata or {}).get("frames")
    problem = decode_problem(body, int(declared) if declared else None) if decode else None
    if problem:
        return problem
    if ffmpeg_dir is not None:
        path = ffmpeg_dir / "object.ts"
        path.write_bytes(body)
        if errors := ffmpeg_errors(path):
            return f"ffmpeg: {errors[:300]}"
    report.frames += int(declared or 0)
    report.seconds += row.duration_ms / 1000
    return None


def overlaps(rows: list[m.Segment], tolerance_ms: int = 0) -> list[str]:
    """Segments of one camera that overlap each other."""
    found = []
    per_camera: dict[str, list[m.Segment]] = defaultdict(list)
    for row in rows:
        per_camera[row.camera_id].append(row)
    slack = timedelta(milliseconds=tolerance_ms)
    for segs in per_camera.values():
        segs.sort(key=lambda r: r.start)
        for a, b in zip(segs, segs[1:], strict=False):
            if b.start + slack < a.end:
                found.append(f"{a.key} overlaps {b.key}")
    return found


def coverage(sessions, camera_id: str, start: datetime, end: datetime) -> dict:
    """How [start, end) of one camera is accounted for: seconds recorded, seconds in gap
    rows (with their causes), and seconds neither (unexplained holes)."""
    with sessions() as s:
        segs = list(s.scalars(select(m.Segment).where(m.Segment.camera_id == camera_id)))
        gaps = list(s.scalars(select(m.Gap).where(m.Gap.camera_id == camera_id)))
    seg_spans = _clip([(x.start, x.end) for x in segs], start, end)
    gap_spans = _clip([(g.start, g.end or end) for g in gaps], start, end)
    recorded = _length(_union(seg_spans))
    in_gaps = _length(_union(gap_spans))
    covered = _union(seg_spans + gap_spans)
    both = _length(covered)
    holes = [(a, b) for (_, a), (b, _) in zip([(start, start), *covered],
                                               [*covered, (end, end)], strict=True) if b > a]
    return {"holes": [f"{a:%H:%M:%S.%f}-{b:%H:%M:%S.%f}" for a, b in holes][:10],
            "wall_s": (end - start).total_seconds(), "recorded_s": recorded,
            "gap_s": in_gaps, "overlap_s": recorded + in_gaps - both,
            "unexplained_s": (end - start).total_seconds() - both,
            "causes": sorted({g.cause for g in gaps})}


def _clip(spans, start, end):
    return [(max(a, start), min(b, end)) for a, b in spans if b > start and a < end]


def _union(spans):
    merged: list[list[datetime]] = []
    for a, b in sorted(spans):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


def _length(spans) -> float:
    return sum((b - a).total_seconds() for a, b in spans)
