"""The demo's story (`camerahub demo`), loaded only when the demo runs.

100 simulated cameras (camerahub-sim) -> deploy of the Nakano example -> discovery ->
continuous recording to a local FileStore -> the API and web UI on 127.0.0.1 -> a log
alert that opens an incident -> the room's manager plays the held footage, another
division's manager is refused -> a signed evidence export that verifies -> the audit chain.
Then it keeps recording and serving until Ctrl-C (or --duration).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx

from camerahub.composition import build_recorder, build_services
from camerahub.config import load_config, resolve_runtime
from camerahub.db import models as m
from camerahub.db.engine import inventory_write
from camerahub.deploy import apply_plan, plan_changes

from .common import CliError

ROOM_TERMINAL = "T-HQ-1F-KOSEKI-01"  # a terminal in 1階 戸籍執務室 (two of its cameras shown)


def say(text: str) -> None:
    """One line of the demo's narration."""
    print(text, flush=True)


class Demo:
    """The demo's moving parts, started in order and stopped in reverse."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.data = args.data_dir.resolve()
        self.stoppers: list = []
        self.base = f"http://127.0.0.1:{args.port}"
        # A fresh password each run (printed once for the person running the demo).
        self.password = f"Demo-{secrets.token_urlsafe(9)}-7!"

    def prepare(self) -> None:
        """The data directory (kept unless --fresh) and demo secrets in the environment.

        The previous run's footage, incidents and audit trail stay: a second `make demo`
        continues where the first stopped. The token and export keys are kept in the data
        directory (owner-only files), so the first run's bundles still verify.
        """
        if self.args.fresh and self.data.exists():
            say(f"== --fresh: deleting the previous run's data in {self.data}")
            shutil.rmtree(self.data)
        reused = (self.data / "camerahub.db").exists()
        self.data.mkdir(parents=True, exist_ok=True)
        os.environ["CAMERAHUB_DATA_DIR"] = str(self.data)
        os.environ["CAMERAHUB_DATABASE_URL"] = f"sqlite:///{self.data / 'camerahub.db'}"
        os.environ.setdefault("CAMERAHUB_CAMERA_PASSWORD", "admin")
        os.environ.setdefault("CAMERAHUB_SECRET_KEY", self._kept_secret("demo-token.key"))
        os.environ.setdefault("CAMERAHUB_EXPORT_KEY", self._kept_secret("demo-export.pem"))
        say(f"== data in {self.data} ({'the previous run continues' if reused else 'new'}); "
            f"footage older than {self.args.keep_hours:g} h is deleted unless held")
        self.cfg = load_config(self.args.file)
        self.runtime = resolve_runtime(self.cfg, self.args.file)
        # Built once, shared by the recorder and the API; closed after everything else.
        self.services = build_services(self.cfg, self.runtime)
        self.stoppers.append(self.services.close)
        self.sessions = self.services.sessions

    def _kept_secret(self, name: str) -> str:
        """A demo secret made on the first run and read back on later ones."""
        from camerahub.export import generate_key

        path = self.data / name
        if not path.exists():
            value = generate_key().decode() if name.endswith(".pem") else \
                secrets.token_urlsafe(48)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(value)
        return path.read_text(encoding="utf-8")

    def cli_hint(self) -> None:
        """How to point the CLI at this demo from another terminal."""
        env = (f"CAMERAHUB_CONFIG={self.args.file} CAMERAHUB_DATA_DIR={self.data} "
               "CAMERAHUB_CAMERA_PASSWORD=admin")
        say("== the CLI against this demo, from another terminal:")
        say(f"   {env} .venv/bin/camerahub cameras")
        say(f"   {env} .venv/bin/camerahub audit verify")

    def simulator(self) -> None:
        """camerahub-sim with the example's 100 cameras (55 HQ, 45 facilities)."""
        hq = sum(c.site == "hq" for c in self.cfg.cameras)
        cmd = [sys.executable, "-m", "simulator", "--cameras", str(len(self.cfg.cameras)),
               "--hq", str(hq), "--cache-dir", str(Path(".sim-cache").resolve())]
        say(f"== starting {len(self.cfg.cameras)} simulated cameras (first start encodes "
            "their video loops, later starts reuse them)")
        proc = spawn_detached(cmd)
        self.stoppers.append(lambda: (proc.send_signal(signal.SIGTERM), proc.wait(30)))
        line = proc.stdout.readline().strip()
        if not line.startswith("ready"):
            raise CliError(f"simulator did not start (ports 8080/8554/8099 in use?): {line}")
        threading.Thread(target=proc.stdout.read, daemon=True).start()
        say(f"   {line}")

    def deploy(self) -> None:
        """Plan and apply the example; a second apply changes nothing."""
        from camerahub.cli.deploy import summary_line

        text = self.args.file.read_text(encoding="utf-8")
        for attempt in ("apply", "re-apply"):
            with inventory_write(self.sessions) as s:
                plan = plan_changes(s, self.cfg)
                done = apply_plan(s, plan, text, str(self.args.file))
            say(f"== deploy {attempt}: {summary_line(plan, applied=done is not None)}")

    def discover(self) -> None:
        """One discovery round over every site's configured targets."""
        from camerahub.discovery import DiscoveryService

        service = DiscoveryService(self.cfg, self.sessions,
                                   ca_file=self.runtime.camera_ca_file(self.cfg))
        run = service.run_once()
        service.close()
        counts = ", ".join(f"{n} {k}" for k, n in sorted(run.counts().items()))
        say(f"== discovery: {len(run.results)} devices in {run.seconds:.1f} s ({counts})")

    def accounts(self) -> str:
        """Demo passwords for every user and an API key for the log-analysis tool."""
        from camerahub.authz import accounts
        from camerahub.authz.passwords import Passwords

        hasher = Passwords()
        with self.sessions.begin() as s:
            for user in self.cfg.users:
                accounts.set_password(s, hasher, self.cfg.auth, user.id, self.password)
            # A key per run: the previous run's key keeps its audit history under its name.
            _, key = accounts.create_api_key(s, f"demo-log-analyzer-{int(time.time())}",
                                             "alerts:log-analyzer",
                                             {a.id for a in self.cfg.alert_sources})
        return key

    def record(self) -> None:
        """Record every camera into a local FileStore until the demo stops."""
        from camerahub.db.types import utcnow

        self.recording_since = utcnow()
        rec = build_recorder(self.services)
        rec.start()
        self.stoppers.append(rec.stop)
        self._keep_disk_bounded()
        say(f"== recording {len(self.cfg.cameras)} cameras (10 s segments, stream copy) "
            f"into {self.runtime.data_dir / 'segments'}")

    def _keep_disk_bounded(self) -> None:
        """A retention sweep every 5 minutes that keeps --keep-hours of unheld footage."""
        from camerahub.retention import RetentionSweeper

        sweeper = RetentionSweeper(self.sessions, self.services.store,
                                   max_age=timedelta(hours=self.args.keep_hours))
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(300):
                try:
                    sweeper.sweep()
                except Exception as exc:  # noqa: BLE001 - the next sweep tries again
                    say(f"   (retention sweep failed: {exc})")

        threading.Thread(target=loop, name="demo-retention", daemon=True).start()
        self.stoppers.append(stop.set)

    def disk_use(self) -> None:
        """What recording costs on this disk, measured from the segments indexed so far."""
        from sqlalchemy import func, select

        with self.sessions() as s:
            nbytes, ms = s.execute(select(func.sum(m.Segment.bytes),
                                          func.sum(m.Segment.duration_ms))).one()
        if not nbytes or not ms:
            return
        per_hour = hourly_bytes(nbytes, ms, len(self.cfg.cameras))
        say(f"== disk: recording {len(self.cfg.cameras)} cameras writes about "
            f"{per_hour / 1e9:.1f} GB an hour; the demo keeps {self.args.keep_hours:g} h "
            f"(about {per_hour * self.args.keep_hours / 1e9:.1f} GB) plus held evidence")

    def sign_in_hint(self) -> None:
        """Every demo user with their role, and this run's password."""
        names = {"crisis-management": "危機管理", "department-head": "部長",
                 "division-manager": "統括管理者", "ops": "情報システム", "auditor": "監査"}
        say(f"\nOpen {self.base}/ and sign in; this run's password for every user: "
            f"{self.password}")
        for user in self.cfg.users:
            scope = f", {user.scope}" if getattr(user, "scope", None) else ""
            say(f"   {user.id:20s} {user.role} ({names.get(user.role, '')}{scope})")

    def serve(self) -> None:
        """The API and web UI on 127.0.0.1 in a background thread."""
        import uvicorn

        from camerahub.api import Settings, create_app

        app = create_app(Settings.load(self.cfg), self.services)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.args.port,
                                               log_level="warning"))
        threading.Thread(target=server.run, daemon=True).start()
        self.stoppers.append(lambda: setattr(server, "should_exit", True))
        if self.services.alarms is not None:  # what `serve` runs: the ops console's alarms
            self.services.alarms.start()
            self.stoppers.append(self.services.alarms.stop)
        deadline = time.monotonic() + 60
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.1)
        say(f"== API and web UI on {self.base}/")

    def wait_for_footage(self, per_camera: int = 2) -> None:
        """Until every camera has segments of this run in the index (a previous run's footage
        does not count: the story plays what was just recorded)."""
        from sqlalchemy import func, select

        say("== waiting for the first segments of every camera ...")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with self.sessions() as s:
                counts = dict(s.execute(select(m.Segment.camera_id, func.count())
                                        .where(m.Segment.start >= self.recording_since)
                                        .group_by(m.Segment.camera_id)).all())
            ready = sum(1 for c in self.cfg.cameras if counts.get(c.id, 0) >= per_camera)
            if ready == len(self.cfg.cameras):
                say(f"   {sum(counts.values())} segments of this run indexed for {ready} "
                    "cameras")
                return
            time.sleep(2)
        say(f"   only {ready} of {len(self.cfg.cameras)} cameras have footage so far")

    def token(self, client: httpx.Client, user: str) -> dict:
        resp = client.post("/api/v1/auth/token",
                           data={"username": user, "password": self.password})
        resp.raise_for_status()
        return {"Authorization": f"Bearer {resp.json()['access_token']}"}

    def story(self, key: str) -> None:
        """Alert -> incident -> manager reviews -> others refused -> export -> audit."""
        from camerahub.db.types import utcnow

        end = utcnow() - timedelta(seconds=5)
        start = end - timedelta(seconds=15)
        alert = {"alert_id": f"DEMO-{int(time.time())}", "rule": "短時間大量照会",
                 "employee_id": "E10234", "terminal_id": ROOM_TERMINAL, "severity": "high",
                 "text": "5分間に住民記録を48件照会",
                 "window": {"start": start.isoformat(), "end": end.isoformat()}}
        with httpx.Client(base_url=self.base, timeout=60) as client:
            resp = client.post("/api/v1/alerts", json=alert, headers={"X-API-Key": key})
            body = resp.json()
            incident = body["incident_id"]
            what = ("joins open incident" if body.get("joined") else "opens incident")
            say(f"== log alert {alert['alert_id']} at {ROOM_TERMINAL} {what} {incident}; "
                "the room's footage is held and its managers have a time-boxed grant")
            self.review(client, incident, start, end)
            self.export(client, incident)

    def review(self, client: httpx.Client, incident: int, start, end) -> None:
        """The room's division manager plays the window; another division's cannot."""
        mgr = self.token(client, "tokatsu-koseki")
        detail = client.get(f"/api/v1/incidents/{incident}", headers=mgr).json()
        cams = sorted({h["camera"] for h in detail["holds"]})
        q = f"start={quote(start.isoformat())}&end={quote(end.isoformat())}"
        resp = client.get(f"/api/v1/cameras/{cams[0]}/clip.mp4?{q}", headers=mgr)
        clip = self.data / f"incident-{incident}-{cams[0]}.mp4"
        clip.write_bytes(resp.content)
        say(f"   tokatsu-koseki (戸籍住民分野 統括管理者) plays {cams[0]}: HTTP "
            f"{resp.status_code}, {len(resp.content)} bytes -> {clip}")
        other = self.token(client, "tokatsu-zeimu")
        resp = client.get(f"/api/v1/cameras/{cams[0]}/clip.mp4?{q}&reason=demo",
                          headers=other)
        say(f"   tokatsu-zeimu (税務分野 統括管理者) asks for the same: HTTP "
            f"{resp.status_code} (the camera is not in their area)")

    def export(self, client: httpx.Client, incident: int) -> None:
        """Crisis-management exports the evidence; the bundle verifies."""
        from camerahub.export import load_private_key, verify_bundle

        kiki = self.token(client, "kiki-sato")
        resp = client.post(f"/api/v1/incidents/{incident}/export", headers=kiki)
        bundle = self.data / f"incident-{incident}.zip"
        bundle.write_bytes(resp.content)
        trusted = load_private_key(os.environ["CAMERAHUB_EXPORT_KEY"]).public_key()
        report = verify_bundle(bundle, trusted)
        say(f"   kiki-sato (危機管理) exports evidence -> {bundle}: "
            f"{'verified' if report.ok else 'NOT verified: ' + '; '.join(report.problems)}")

    def audit(self) -> None:
        """The audit chain is intact."""
        from camerahub import audit

        with self.sessions() as s:
            result = audit.verify(s)
        say(f"== audit trail: {result.entries} entries, chain "
            f"{'intact' if result.ok else 'BROKEN at ' + str(result.first_bad)}")

    def stop(self) -> None:
        """Stop everything started, newest first."""
        for stopper in reversed(self.stoppers):
            try:
                stopper()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                say(f"   (stopping: {exc})")


def spawn_detached(cmd: list[str]) -> subprocess.Popen:
    """A child in a session of its own: Ctrl-C in the terminal reaches only the demo, which
    stops its recorder first and the child last. (In the terminal's process group the
    simulated cameras died with the keypress, and the recorder and live view logged every
    camera as having ended its stream, and recorded gaps, while shutting down.)"""
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            start_new_session=True)


def hourly_bytes(total_bytes: int, total_ms: int, cameras: int) -> float:
    """Bytes an hour for `cameras` cameras, from segments' summed sizes and durations (summed
    over every camera recorded: their ratio is one camera's average rate)."""
    return total_bytes / (total_ms / 1000) * 3600 * cameras
