"""Synthetic pictures, H.264 loop encoding with PyAV and an on-disk cache of the loops."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import struct
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

log = logging.getLogger(__name__)

# Bump when drawing or encoder settings change, so stale cached loops are not reused.
ENCODER_VERSION = 3
CACHE_MAGIC = b"CHSIM1\n"


class MediaError(Exception):
    """Encoding or cache failure."""


@dataclass(frozen=True)
class ProfileSpec:
    """What one stream of a camera looks like."""

    token: str
    width: int
    height: int
    fps: int
    bitrate: int | None = None  # bit/s; None means the light constant-quality default
    gop_seconds: int = 1
    loop_seconds: int = 4
    texture: bool = False  # noise texture so the encoder spends bits like a real scene
    gop_frames: int | None = None  # GOP length set over ONVIF; None: fps * gop_seconds
    h264_profile: str = "baseline"  # baseline, main or high
    bitrate_limit: int | None = None  # kbps reported over ONVIF; not an encoder input

    @property
    def frames_per_loop(self) -> int:
        """Number of frames in the loop: about loop_seconds, rounded up to whole GOPs."""
        return -(-self.fps * self.loop_seconds // self.gop) * self.gop

    @property
    def gop(self) -> int:
        """Frames per GOP."""
        return self.gop_frames or self.fps * self.gop_seconds

    def encoding(self) -> dict:
        """The fields that shape the encoded stream (defaults left out so old cache keys hold)."""
        out = {k: v for k, v in self.__dict__.items() if k != "bitrate_limit"}
        if out["gop_frames"] is None:
            del out["gop_frames"]
        if out["h264_profile"] == "baseline":
            del out["h264_profile"]
        return out


@dataclass(frozen=True)
class Label:
    """Text drawn into the picture of one camera."""

    camera_id: str
    name: str
    site: str
    address: str

    def drawn(self) -> dict:
        """The fields drawn into the picture, so the fields the cached loops depend on.

        The address is not drawn: the same camera on another loopback range (each test folder
        and xdist worker has its own) then reuses the loop instead of encoding it again."""
        return {"camera_id": self.camera_id, "name": self.name, "site": self.site}


@dataclass
class EncodedLoop:
    """A seamless loop of H.264 access units (Annex B) starting with an IDR."""

    spec: ProfileSpec
    frames: list[bytes]
    keyframes: list[bool]
    sps: bytes
    pps: bytes

    @property
    def profile_level_id(self) -> str:
        """The SDP profile-level-id, taken from the SPS."""
        return self.sps[1:4].hex().upper()

    @property
    def byte_size(self) -> int:
        """Total size of the loop in bytes."""
        return sum(len(f) for f in self.frames)


def split_nals(data: bytes) -> list[bytes]:
    """Split an Annex B byte stream into NAL units without start codes."""
    nals = []
    starts = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    for k, start in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else len(data)
        nal = data[start:end]
        # a 4-byte start code leaves a trailing zero on the previous NAL
        if k + 1 < len(starts) and nal.endswith(b"\x00"):
            nal = nal.rstrip(b"\x00")
        if nal:
            nals.append(nal)
    return nals


def _background(label: Label, spec: ProfileSpec) -> np.ndarray:
    """A per-camera gradient, so each camera is recognisable at a glance."""
    seed = int.from_bytes(hashlib.sha256(label.camera_id.encode()).digest()[:4], "big")
    hue = seed % 180
    gradient = np.linspace(60, 200, spec.width, dtype=np.uint8)
    hsv = np.empty((spec.height, spec.width, 3), np.uint8)
    hsv[..., 0] = hue
    hsv[..., 1] = 90
    hsv[..., 2] = gradient[None, :]
    img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if spec.texture:
        rng = np.random.default_rng(seed)
        img = cv2.add(img, rng.integers(0, 40, img.shape, dtype=np.uint8))
    return img


def _draw(background: np.ndarray, label: Label, spec: ProfileSpec, index: int,
          noise: np.ndarray | None) -> np.ndarray:
    """Draw one frame: labels, frame counter and an object moving along the loop."""
    img = background.copy()
    h, w = spec.height, spec.width
    scale = h / 720
    phase = index / spec.frames_per_loop
    # the object returns to its start after one loop so the wrap is seamless
    x = int(w * (0.1 + 0.8 * (0.5 - 0.5 * np.cos(2 * np.pi * phase))))
    y = int(h * (0.6 + 0.2 * np.sin(2 * np.pi * phase)))
    cv2.circle(img, (x, y), max(8, int(50 * scale)), (0, 0, 255), -1)
    if noise is not None:
        shift = (index * 7919) % noise.shape[0]
        img = cv2.add(img, np.roll(noise, shift, axis=0)[:h, :w])
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, int(2 * scale))
    lines = (f"{label.camera_id}  {label.name}", f"site {label.site}",
             f"{spec.token} {w}x{h}@{spec.fps}  frame {index:04d}")
    for k, text in enumerate(lines):
        org = (int(20 * scale), int((50 + 45 * k) * scale))
        cv2.putText(img, text, org, font, 1.2 * scale, (255, 255, 255), thick, cv2.LINE_AA)
    return img


def _encoder(spec: ProfileSpec) -> av.CodecContext:
    """A libx264 context: no B-frames, fixed GOP, SPS/PPS repeated before each IDR."""
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height = spec.width, spec.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, spec.fps)
    ctx.framerate = Fraction(spec.fps, 1)
    params = (f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0:bframes=0:"
              "repeat-headers=1:threads=1:aud=0")
    options = {"preset": "ultrafast", "tune": "zerolatency", "profile": spec.h264_profile,
               "x264-params": params}
    if spec.bitrate:
        ctx.bit_rate = spec.bitrate
        options["x264-params"] += (f":vbv-maxrate={spec.bitrate // 1000}"
                                   f":vbv-bufsize={spec.bitrate // 1000}")
    else:
        options["crf"] = "30"
    ctx.options = options
    ctx.thread_count = 1
    return ctx


def encode_loop(label: Label, spec: ProfileSpec) -> EncodedLoop:
    """Draw and encode one loop of the given camera and profile."""
    ctx = _encoder(spec)
    background = _background(label, spec)
    noise = None
    if spec.texture:
        rng = np.random.default_rng(1)
        noise = rng.integers(0, 48, (spec.height * 2, spec.width, 3), dtype=np.uint8)
    frames: list[bytes] = []
    keyframes: list[bool] = []
    for index in range(spec.frames_per_loop):
        img = _draw(background, label, spec, index, noise)
        frame = av.VideoFrame.from_ndarray(cv2.cvtColor(img, cv2.COLOR_BGR2YUV_I420),
                                           format="yuv420p")
        frame.pts = index
        for packet in ctx.encode(frame):
            frames.append(bytes(packet))
            keyframes.append(bool(packet.is_keyframe))
    for packet in ctx.encode(None):
        frames.append(bytes(packet))
        keyframes.append(bool(packet.is_keyframe))
    return _finish(spec, frames, keyframes)


def _finish(spec: ProfileSpec, frames: list[bytes], keyframes: list[bool]) -> EncodedLoop:
    """Check the loop's shape and pull out its parameter sets."""
    if len(frames) != spec.frames_per_loop or not keyframes or not keyframes[0]:
        raise MediaError(f"encoder produced {len(frames)} frames for {spec}")
    sps = pps = b""
    for nal in split_nals(frames[0]):
        if nal[0] & 0x1F == 7:
            sps = nal
        elif nal[0] & 0x1F == 8:
            pps = nal
    if not sps or not pps:
        raise MediaError("first access unit lacks SPS/PPS")
    return EncodedLoop(spec, frames, keyframes, sps, pps)


def cache_key(label: Label, spec: ProfileSpec) -> str:
    """A file name that changes whenever the picture or the encoding would change."""
    blob = json.dumps([ENCODER_VERSION, av.__version__, label.drawn(), spec.encoding()],
                      sort_keys=True)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return f"{label.camera_id}-{spec.token}-{digest}.h264loop"


def default_cache_dir() -> Path:
    """$CAMERAHUB_SIM_CACHE, else ~/.cache/camerahub-sim."""
    env = os.environ.get("CAMERAHUB_SIM_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "camerahub-sim"


def save_loop(path: Path, loop: EncodedLoop) -> None:
    """Write a loop atomically (temp file then rename) so a crash leaves no torn file."""
    header = json.dumps({"sizes": [len(f) for f in loop.frames],
                         "keyframes": loop.keyframes}).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(CACHE_MAGIC + struct.pack("!I", len(header)) + header)
            out.write(b"".join(loop.frames))
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the cache may be shared between users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_loop(path: Path, spec: ProfileSpec) -> EncodedLoop | None:
    """Read a cached loop; None when absent or unreadable (it is then re-encoded)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        if not data.startswith(CACHE_MAGIC):
            raise MediaError("bad magic")
        pos = len(CACHE_MAGIC)
        (hlen,) = struct.unpack_from("!I", data, pos)
        header = json.loads(data[pos + 4:pos + 4 + hlen])
        pos += 4 + hlen
        frames = []
        for size in header["sizes"]:
            frames.append(data[pos:pos + size])
            pos += size
        return _finish(spec, frames, header["keyframes"])
    except (MediaError, ValueError, KeyError, struct.error) as exc:
        log.warning("ignoring unreadable cache file %s: %s", path, exc)
        return None


def get_loop(label: Label, spec: ProfileSpec, cache_dir: Path | None) -> EncodedLoop:
    """The loop from the cache, encoding and caching it when missing."""
    if cache_dir is None:
        return encode_loop(label, spec)
    path = cache_dir / cache_key(label, spec)
    loop = load_loop(path, spec)
    if loop is not None:
        return loop
    # Simulators starting at once (test workers, the demo's processes) often want the same
    # loop: one encodes it while the others wait for the file instead of encoding it too.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        loop = load_loop(path, spec)
        if loop is None:
            loop = encode_loop(label, spec)
            save_loop(path, loop)
    return loop


def snapshot_jpeg(label: Label, spec: ProfileSpec, index: int) -> bytes:
    """A JPEG of frame `index` of the loop, drawn fresh (cheap, and only on request)."""
    img = _draw(_background(label, spec), label, spec, index % spec.frames_per_loop, None)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise MediaError("JPEG encoding failed")
    return buf.tobytes()
