"""Real H.264 for tests: numbered frames drawn with OpenCV, encoded with PyAV/libx264, and cut
into spool segments by the real segmenter. The one place tests make video files."""

from __future__ import annotations

import contextlib
import random
import subprocess
import threading
from datetime import datetime
from pathlib import Path

import av
import cv2
import numpy as np

from camerahub.storage import SpoolItem, SpoolSink
from camerahub.video.errors import StreamEnded
from camerahub.video.segmenter import Segmenter, SegmenterConfig

FPS = 15
GOP = 15
SIZE = (320, 240)
SECONDS = 32  # the video suites' long input


def frame_image(index: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """Frame `index`: its number and a box that moves, so consecutive frames differ."""
    width, height = size
    img = np.zeros((height, width, 3), np.uint8)
    box = width // 8
    x = index * 4 % max(1, width - box)
    cv2.rectangle(img, (x, height // 12), (x + box, height // 12 + box), (0, 200, 255), -1)
    cv2.putText(img, str(index), (40, height * 3 // 4), cv2.FONT_HERSHEY_SIMPLEX, 2,
                (255, 255, 255), 3)
    return img


def encode_h264(path: Path, seconds: float, fps: int = FPS, gop: int = GOP,
                size: tuple[int, int] = SIZE, profile: str | None = None,
                container: str = "mpegts", bframes: int = 0, slices: int = 0,
                codec: str = "libx264") -> Path:
    """Encode numbered frames with libx264 (GOP `gop`, no scene cuts) into `container`.

    The MPEG-TS default is a camera's recording; "mp4" carries avcC extradata instead of
    in-band parameter sets. `bframes` > 0 reorders frames (dts != pts), as many cameras do;
    `slices` > 1 cuts each picture into that many slices; `codec` "libx265" makes H.265.
    """
    width, height = size
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0",
                          "preset": "ultrafast", "bf": str(bframes),
                          **({"profile": profile} if profile else {}),
                          **({"slices": str(slices)} if slices else {}),
                          **({"x265-params": "log-level=error"} if codec == "libx265"
                             else {})}
        for index in range(round(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(frame_image(index, size), format="bgr24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def segments(source: Path, spool: Path, camera: str, site: str, start: datetime,
             seconds: float = 4.0) -> list[SpoolItem]:
    """Cut a file into spool segments whose wall-clock anchor is `start`."""
    made: list[SpoolItem] = []
    seg = Segmenter(camera, site, SpoolSink(spool), made.append,
                    SegmenterConfig(segment_seconds=seconds, drift_threshold_s=None),
                    clock=lambda: start)
    with contextlib.suppress(StreamEnded):  # a file source always ends this way
        seg.record(str(source), threading.Event())
    return made


class EncodedMedia:
    """Encodes each distinct (seconds, options) once and hands out the same read-only file.

    The session fixture `h264` is one of these; tests must copy a file before changing it.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._made: dict[tuple, Path] = {}
        self._lock = threading.Lock()

    def __call__(self, seconds: float, **options) -> Path:
        key = (seconds, *sorted(options.items()))
        with self._lock:
            if key not in self._made:
                suffix = {"mpegts": "ts"}.get(options.get("container", "mpegts"),
                                              options.get("container"))
                path = self.directory / f"h264-{len(self._made)}.{suffix}"
                self._made[key] = encode_h264(path, seconds, **options)
            return self._made[key]


def ffmpeg_errors(path: Path) -> str:
    """What an independent decoder, the ffmpeg command, reports decoding a whole file to its
    last frame: "" when it is clean (`ffmpeg -v error -i X -f null -`)."""
    done = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null",
                           "-"], capture_output=True, text=True, timeout=300)
    errors = done.stderr.strip()
    if done.returncode and not errors:
        errors = f"ffmpeg exited with {done.returncode}"
    return errors


def rbsp_bytes(bits: str) -> bytes:
    """Bits of a NAL unit's payload ("0101..."), ended and aligned as the standard says."""
    bits += "1" + "0" * (-(len(bits) + 1) % 8)  # rbsp_stop_one_bit, then alignment
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def ue_bits(value: int) -> str:
    """The exp-Golomb code of a value, as bits."""
    code = bin(value + 1)[2:]
    return "0" * (len(code) - 1) + code


def h264_slice(header: int, slice_type: int, pps: int, frame_num: int, log2: int,
               first_mb: int = 0) -> bytes:
    """An H.264 slice NAL unit (its header byte given) whose slice header says so, then
    bytes of noise: what a camera sending noise may send and the NAL check passes."""
    body = (ue_bits(first_mb) + ue_bits(slice_type) + ue_bits(pps)
            + format(frame_num, f"0{log2}b"))
    return bytes((header,)) + rbsp_bytes(body) + random.Random(7).randbytes(40)


def annexb(*nals: bytes) -> bytes:
    """NAL units as one Annex B packet."""
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals)


encode = encode_h264  # the shorter name the incident tests use


def forbidden_bit(data: bytes) -> bytes:
    """An Annex B packet with its first NAL unit's forbidden bit set: noise the recorder
    must refuse."""
    at = data.find(b"\x00\x00\x01") + 3
    return data[:at] + bytes((data[at] | 0x80,)) + data[at + 1:]
