"""Helpers shared by the CLI verbs: config and database access, output formatting."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from camerahub.config.runtime import config_path

# Verbs import what they use inside the functions that use it: `camerahub --help` and every
# verb's --help must not pay for pydantic models, SQLAlchemy, zeep, boto3 or PyAV.
if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from camerahub.composition import Services
    from camerahub.config import Config
    from camerahub.config.runtime import Runtime
    from camerahub.storage import SegmentStore

EXIT_OK, EXIT_RUNTIME, EXIT_INVALID = 0, 1, 2


class CliError(Exception):
    """A failure to report in one line with an exit code."""

    def __init__(self, message: str, code: int = EXIT_RUNTIME):
        super().__init__(message)
        self.code = code


def add_config_arg(parser: argparse.ArgumentParser) -> None:
    """--config FILE, as every verb takes it."""
    parser.add_argument("--config", metavar="FILE",
                        help="deployment file (default camerahub.yaml, env CAMERAHUB_CONFIG)")


class Context:
    """Lazily loaded configuration, runtime paths and database for one command."""

    def __init__(self, config: str | None, config_required: bool = True,
                 create_database: bool = False):
        self.path = config_path(config)
        self.required = config_required
        self.create_database = create_database

    @cached_property
    def config(self) -> Config | None:
        from camerahub.config import load_config

        if not self.path.exists() and not self.required:
            return None
        return load_config(self.path)

    @cached_property
    def runtime(self) -> Runtime:
        from camerahub.config import resolve_runtime

        return resolve_runtime(self.config, self.path)

    @cached_property
    def database(self) -> tuple[Engine, sessionmaker[Session]]:
        from camerahub.db.engine import open_database

        self._require_database()
        return open_database(self.runtime.database_url)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.database[1]

    def store(self) -> SegmentStore:
        """The configured segment store (for verbs that need nothing else built)."""
        from camerahub.composition import open_store

        return open_store(self.config, self.runtime)

    def services(self, background: bool = False) -> Services:
        """Every shared service, from the composition root; the caller closes them."""
        from camerahub.composition import build_services

        self._require_database()
        self.camera_ca_file()
        return build_services(self.config, self.runtime, background=background)

    def camera_ca_file(self) -> str | None:
        """defaults.tls_ca_file resolved, once checked usable; None when unset (or no
        config)."""
        if self.config is None:
            return None
        return checked_ca_file(self.runtime.camera_ca_file(self.config))

    def _require_database(self) -> None:
        """Only verbs that manage the inventory create a database; the others say where
        they looked, so a typo or a missing --config never yields an empty inventory."""
        from camerahub.db.engine import DatabaseMissing, require_database

        if self.create_database:
            return
        try:
            require_database(self.runtime.database_url)
        except DatabaseMissing as exc:
            raise CliError(f"{exc} (database from {self._database_source()}); create it with "
                           "`camerahub deploy apply -f FILE`, or point at another with "
                           "--config FILE or CAMERAHUB_DATABASE_URL", EXIT_INVALID) from None

    def _database_source(self) -> str:
        """Where the database URL came from, as the person must change it."""
        import os

        if os.environ.get("CAMERAHUB_DATABASE_URL"):
            return "CAMERAHUB_DATABASE_URL"
        if self.config is not None and self.config.database_url:
            return f"database_url in {self.path}"
        where = "CAMERAHUB_DATA_DIR" if os.environ.get("CAMERAHUB_DATA_DIR") else (
            f"{self.path}" if self.config is not None else "the default var/")
        return f"the data directory ({where})"


def checked_ca_file(ca_file: str | None) -> str | None:
    """A CA file for cameras' TLS (rtsps://, ONVIF over HTTPS) that cannot be read stops the
    verb at once (exit 2), rather than every such camera failing on its own later."""
    from camerahub.video.errors import StreamOpenError
    from camerahub.video.tls import client_context

    if ca_file is not None:
        try:
            client_context(ca_file)
        except StreamOpenError as exc:
            raise CliError(str(exc).removeprefix("invalid: "), EXIT_INVALID) from None
    return ca_file


def audited_change(ctx: Context, action: str, detail: dict, change: Callable[[Any], object],
                   refused: tuple[type[Exception], ...]) -> None:
    """Run change(session), refusing `refused` errors with exit 2, and audit it as the CLI."""
    from camerahub import audit

    with ctx.sessions() as session:
        try:
            change(session)
        except refused as exc:
            raise CliError(str(exc), EXIT_INVALID) from None
        audit.append(session, actor=audit.actors.CLI, action=action, decision="info", detail=detail)
        session.commit()


def print_json(data: Any) -> None:
    """Machine output: JSON on stdout, non-ASCII kept readable."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")


def width(text: str) -> int:
    """Display width in a terminal: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table aligned for Japanese and ASCII alike."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(width(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c + " " * (widths[i] - width(c)) for i, c in enumerate(r)).rstrip()
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def read_text(path: Path) -> str:
    """The text of a file the config loader already validated."""
    return path.read_text(encoding="utf-8")
