"""The real `camerahub` CLI run in-process against a fresh database."""

from __future__ import annotations

import pytest

from camerahub.cli import main
from tests.support.devices import CAMERA_PASSWORD


@pytest.fixture
def cli(sqlite_url, monkeypatch, capsys):
    """Run the real CLI; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("CAMERAHUB_CAMERA_PASSWORD", CAMERA_PASSWORD)

    def run(*argv):
        capsys.readouterr()
        code = main([str(a) for a in argv])
        out = capsys.readouterr()
        return code, out.out, out.err
    return run
