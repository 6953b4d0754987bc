"""Times in the UI: Asia/Tokyo, and in English in ISO order (never 02/12/2026, which reads
as 2 December or 12 February). Runs time.js in Node, no browser needed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

TIME_JS = Path(__file__).resolve().parents[2] / "camerahub/api/static/js/time.js"


def _show(value: str, lang: str, seconds: bool = True) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    script = (f"import {{showTime}} from {TIME_JS.as_uri()!r};"
              f"console.log(showTime({value!r}, {lang!r}, {'true' if seconds else 'false'}));")
    out = subprocess.run([node, "--input-type=module", "-e", script], capture_output=True,
                         text=True, timeout=60, check=True)
    return out.stdout.strip()


def test_english_dates_are_iso_in_tokyo_time():
    assert _show("2026-12-02T00:30:05Z", "en") == "2026-12-02 09:30:05 JST"
    assert _show("2026-02-11T15:00:00Z", "en", False) == "2026-02-12 00:00 JST"


def test_japanese_dates_stay_japanese_in_tokyo_time():
    assert _show("2026-12-02T00:30:05Z", "ja") == "2026/12/02 09:30:05 JST"
