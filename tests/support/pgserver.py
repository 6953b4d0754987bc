"""A PostgreSQL server of the test's own: initdb in a temporary directory, pg_ctl on a free
loopback port, so a test may stop and restart it. The machine's shared server (5432, which
other tests use) is never touched.

PostgreSQL refuses to run as root; as root the server runs as the `postgres` user (runuser)
in a directory that user owns. `PgServer.unavailable()` says why none can be started here.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.net import free_port


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PgServer:
    """initdb + pg_ctl start/stop/restart on 127.0.0.1:port; remove() deletes everything."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="camerahub-pg-"))
        self.data = self.root / "data"
        self.user = "postgres" if os.geteuid() == 0 else None

    @staticmethod
    def unavailable() -> str | None:
        """Why no server of our own can be started here, or None."""
        if _bin_dir() is None:
            return "PostgreSQL's initdb/pg_ctl not installed (/usr/lib/postgresql/*/bin)"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root without a postgres user to run the server as"
            if shutil.which("runuser") is None:
                return "running as root without runuser to drop to the postgres user"
        return None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the server's `postgres` database."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip()[-500:]}")

    def init(self) -> PgServer:
        """initdb (trust auth, no fsync: a test's throwaway cluster)."""
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off -c synchronous_commit=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def restart(self) -> None:
        """Stop (fast: every connection is cut) and start again."""
        self.stop()
        self.start()

    def remove(self) -> None:
        """Stop if running and delete the cluster."""
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
