"""Privacy masks for disclosure: re-encode a clip with regions painted over and faces blurred.

Footage handed to the police or a court can show residents' records on the terminals'
screens. A disclosure copy is decoded, each configured region (fractions of the frame) is
painted one flat colour, faces found by the Haar cascade that ships inside opencv
(`cv2.data`, no download) are blurred beyond recognition, and the result is encoded again as
H.264 in MP4. Regions are widened outward to the 16-pixel macroblock grid so that no block
straddles the edge and no detail of a screen leaks through the encoder's prediction. The
stored original is never touched: this works on bytes in memory.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache

import av
import numpy as np

from camerahub.video.errors import SegmentUnreadable, VideoError

BLOCK = 16  # H.264 macroblock
FILL = 0  # the flat colour of a masked region (black in every plane after conversion)
FACE_MIN = 24  # the smallest face, in pixels, the cascade looks for


@dataclass(frozen=True)
class Region:
    """A rectangle as fractions of the frame: x, y from the top left, width, height."""

    x: float
    y: float
    w: float
    h: float

    def pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in pixels, widened outward to the macroblock grid."""
        x0 = int(self.x * width) // BLOCK * BLOCK
        y0 = int(self.y * height) // BLOCK * BLOCK
        x1 = min(width, -(-int(np.ceil((self.x + self.w) * width)) // BLOCK) * BLOCK)
        y1 = min(height, -(-int(np.ceil((self.y + self.h) * height)) // BLOCK) * BLOCK)
        return x0, y0, x1, y1


@dataclass(frozen=True)
class MaskReport:
    """What masking did: frames written and how many face boxes were blurred."""

    frames: int
    faces: int


class FaceDetectorMissing(VideoError):
    """The installed opencv has no Haar cascade face detector (OpenCV 5 moved it out)."""


def faces_supported() -> bool:
    """Whether face blurring can run with the installed opencv."""
    try:
        _face_detector()
    except FaceDetectorMissing:
        return False
    return True


@cache
def _face_detector():
    import cv2

    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    path = f"{folder}haarcascade_frontalface_default.xml"
    if not hasattr(cv2, "CascadeClassifier"):
        raise FaceDetectorMissing(f"opencv {cv2.__version__} has no CascadeClassifier (face "
                                  "blurring needs opencv-python-headless 4.x)")
    detector = cv2.CascadeClassifier(path)
    if detector.empty():
        raise FaceDetectorMissing(f"face detector {path} could not be loaded")
    return detector


def _blur_faces(image: np.ndarray) -> int:
    """Blur every face the cascade finds (in place); how many were found."""
    import cv2

    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    faces = _face_detector().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=4,
                                              minSize=(FACE_MIN, FACE_MIN))
    for x, y, w, h in faces:
        # a margin around the box: hair, ears and chin identify people too
        mx, my = w // 4, h // 4
        x0, y0 = max(0, x - mx), max(0, y - my)
        x1, y1 = min(image.shape[1], x + w + mx), min(image.shape[0], y + h + my)
        box = image[y0:y1, x0:x1]
        small = cv2.resize(box, (max(1, (x1 - x0) // 12), max(1, (y1 - y0) // 12)),
                           interpolation=cv2.INTER_AREA)
        image[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0),
                                         interpolation=cv2.INTER_NEAREST)
    return len(faces)


def mask_clip(data: bytes, regions: list[Region], blur_faces: bool = False,
              crf: int = 18) -> tuple[bytes, MaskReport]:
    """An MP4 of `data`'s video with `regions` painted over and faces blurred, re-encoded.

    Frame timing is kept (each frame's presentation time is carried over); audio, if any,
    is dropped (cameras here record video only). Raises SegmentUnreadable if the input has
    no decodable video, FaceDetectorMissing if faces are asked for and cannot be found.
    """
    if blur_faces:
        _face_detector()  # FaceDetectorMissing before any work: never a silently unblurred copy
    out = io.BytesIO()
    frames = faces = 0
    try:
        src = av.open(io.BytesIO(data), mode="r")
    except av.FFmpegError as exc:
        raise SegmentUnreadable(f"clip cannot be opened for masking: {exc}") from None
    with src:
        if not src.streams.video:
            raise SegmentUnreadable("clip has no video stream to mask")
        vin = src.streams.video[0]
        with av.open(out, mode="w", format="mp4") as dst:
            vout = dst.add_stream("libx264", rate=vin.average_rate or 25)
            vout.width, vout.height = vin.codec_context.width, vin.codec_context.height
            vout.pix_fmt = "yuv420p"
            vout.time_base = vin.time_base
            vout.options = {"crf": str(crf), "preset": "veryfast"}
            boxes = [r.pixels(vout.width, vout.height) for r in regions]
            last_pts = None
            try:
                for frame in src.decode(vin):
                    image = frame.to_ndarray(format="bgr24")
                    if blur_faces:
                        faces += _blur_faces(image)
                    for x0, y0, x1, y1 in boxes:
                        image[y0:y1, x0:x1] = FILL
                    new = av.VideoFrame.from_ndarray(image, format="bgr24")
                    pts = frame.pts if frame.pts is not None else frames
                    if last_pts is not None and pts <= last_pts:
                        pts = last_pts + 1  # the muxer needs strictly increasing times
                    new.pts, new.time_base, last_pts = pts, vin.time_base, pts
                    dst.mux(vout.encode(new.reformat(format="yuv420p")))
                    frames += 1
                dst.mux(vout.encode(None))
            except av.FFmpegError as exc:
                raise SegmentUnreadable(f"clip cannot be decoded for masking: {exc}") from None
    if not frames:
        raise SegmentUnreadable("clip has no frames to mask")
    return out.getvalue(), MaskReport(frames, faces)
