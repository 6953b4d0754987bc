"""Run `camerahub-sim` as a subprocess and wait for its `ready N cameras` line."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


class LaunchError(Exception):
    """The simulator process exited or did not become ready in time."""


class SimulatorProcess:
    """A running `camerahub-sim` process; use as a context manager or call stop()."""

    def __init__(self, args: list[str], env: dict | None = None) -> None:
        self.args = list(args)
        # lives as long as the process; closed in stop()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        run_env = {**os.environ, **(env or {})}
        run_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), run_env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator", *self.args], cwd=REPO_ROOT, env=run_env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.ready_seconds: float | None = None
        threading.Thread(target=self._pump, daemon=True).start()

    @property
    def pid(self) -> int:
        """Process id of the simulator."""
        return self.proc.pid

    def _pump(self) -> None:
        """Keep reading stdout so the pipe never fills; lines go to a queue."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def wait_ready(self, timeout: float = 300) -> float:
        """Block until `ready N cameras`; returns seconds taken."""
        started = time.monotonic()
        deadline = started + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                log_tail = self.stderr()
                self.stop()
                raise LaunchError(f"simulator not ready after {timeout} s: {log_tail}") from None
            if line is None:
                code = self.proc.wait()
                raise LaunchError(f"simulator exited with {code}: {self.stderr()}")
            if line.startswith("ready ") and line.endswith(" cameras"):
                self.ready_seconds = time.monotonic() - started
                return self.ready_seconds

    def stderr(self, tail: int = 4000) -> str:
        """The end of what the simulator logged."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-tail:]

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()
        return self.proc.returncode

    def __enter__(self) -> SimulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def launch(*args: str, timeout: float = 300, env: dict | None = None) -> SimulatorProcess:
    """Start `camerahub-sim ARGS...` and return once it printed `ready N cameras`."""
    sim = SimulatorProcess(list(args), env)
    sim.wait_ready(timeout)
    return sim
