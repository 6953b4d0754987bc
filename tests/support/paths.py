"""Where the repository and its example deployment files are."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "deploy" / "examples"
NAKANO = EXAMPLES / "nakano.yaml"  # 100 cameras, 55 at HQ
MINIMAL = EXAMPLES / "minimal.yaml"
