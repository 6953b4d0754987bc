"""Every value the API can show has a label in both languages (no browser needed)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from camerahub.db.segments import GAP_CAUSES
from camerahub.discovery import SEVERITY, STATUSES

JS = Path(__file__).resolve().parents[2] / "camerahub" / "api" / "static" / "js"


def _keys(lang: str) -> set[str]:
    """Keys of one language across i18n.js and strings/*.js (each has `ja: {` then `en: {`)."""
    keys: set[str] = set()
    for path in [JS / "i18n.js", *sorted((JS / "strings").glob("*.js"))]:
        text = path.read_text(encoding="utf-8").partition("\n};")[0]  # the table only
        ja, _, en = text.partition("\n  en: {")
        part = ja if lang == "ja" else en
        keys |= set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*):\s*['`\"]", part))
    return keys


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_gap_cause_has_a_label(lang):
    missing = {c for c in GAP_CAUSES if f"cause_{c}" not in _keys(lang)}
    assert not missing, f"{lang}: no label for gap causes {sorted(missing)}"


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_discovery_status_and_finding_has_a_label(lang):
    keys = _keys(lang)
    missing = ({f"online_{s}" for s in (*STATUSES, "unknown")}
               | {f"finding_{k}" for k in SEVERITY}) - keys
    assert not missing, f"{lang}: no label for {sorted(missing)}"


def test_both_languages_have_the_same_keys():
    assert _keys("ja") ^ _keys("en") == set()
