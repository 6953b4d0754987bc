"""Privacy masks: every decoded frame flat inside the region, the rest as the original."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from camerahub.video.errors import SegmentUnreadable
from camerahub.video.mask import FaceDetectorMissing, Region, faces_supported, mask_clip
from tests.support.media import SIZE

# Over the frame number drawn at the bottom left (tests.support.media.frame_image).
SCREEN = Region(0.05, 0.55, 0.6, 0.35)


def _frames(data: bytes) -> list[tuple[int, np.ndarray]]:
    with av.open(io.BytesIO(data)) as c:
        return [(f.pts, f.to_ndarray(format="bgr24")) for f in c.decode(video=0)]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255 ** 2 / mse)


@pytest.fixture(scope="module")
def original(h264) -> bytes:
    return h264(3, container="mp4").read_bytes()


def test_masked_region_is_uniform_and_the_rest_matches_the_original(original):
    masked, report = mask_clip(original, [SCREEN])
    before, after = _frames(original), _frames(masked)
    assert report.frames == len(before) == len(after) == 45
    assert [p for p, _ in after] == [p for p, _ in before]  # timing kept
    width, height = SIZE
    x0, y0 = int(SCREEN.x * width), int(SCREEN.y * height)
    x1, y1 = int((SCREEN.x + SCREEN.w) * width), int((SCREEN.y + SCREEN.h) * height)
    gx0, gy0, gx1, gy1 = SCREEN.pixels(width, height)
    assert gx0 <= x0 and gy0 <= y0 and gx1 >= x1 and gy1 >= y1  # widened, never narrowed
    outside = np.ones((height, width), bool)
    outside[max(0, gy0 - 16):gy1 + 16, max(0, gx0 - 16):gx1 + 16] = False  # one block apart
    for (_, a), (_, b) in zip(before, after, strict=True):
        region = b[y0:y1, x0:x1]
        assert int(region.max()) - int(region.min()) <= 6, "masked region is not uniform"
        assert np.ptp(a[y0:y1, x0:x1]) > 100  # there was something there to hide
        assert _psnr(a[outside], b[outside]) >= 32


def test_face_blurring_runs_with_the_cascade_shipped_in_opencv(original):
    if not faces_supported():
        with pytest.raises(FaceDetectorMissing, match="opencv"):
            mask_clip(original, [], blur_faces=True)  # refused, never an unblurred copy
        pytest.skip("the installed opencv ships no Haar cascade (OpenCV 5)")
    masked, report = mask_clip(original, [], blur_faces=True)
    assert report.frames == 45 and report.faces == 0  # numbered boxes are not faces
    assert len(_frames(masked)) == 45


def test_not_a_video_is_a_clear_error():
    with pytest.raises(SegmentUnreadable):
        mask_clip(b"not a video at all", [SCREEN])
