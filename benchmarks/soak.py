"""Soak: 100 simulated cameras recorded for a long time through camera faults and an S3 outage.

`camerahub record` (one process) records every camera of a `camerahub-sim` subprocess into a
moto S3 server reached through a TCP proxy of our own. Meanwhile cameras drop, stall and go
offline at random (seeded) and come back, and the proxy cuts the S3 line for a while (5
minutes of a 30-minute run, the same share of a shorter one). Then the spool is left to
drain, the recorder is stopped and everything is checked with tests.support.integrity: every
object read back, hashed against the index and its metadata, decoded to its last frame.

    python benchmarks/soak.py                  # 100 cameras, 30 minutes, 5-minute outage
    python benchmarks/soak.py --quick          # 100 cameras, 20 s, 3 s outage, 1 in 4 decoded
    python benchmarks/soak.py --minutes 3 --cameras 20

Figures (the last line printed is one JSON object): cameras, minutes, recorded_hours,
segments_lost (finished segments that never reached the store and the index: left in the
spool or quarantined, or stored and not indexed), segments_corrupt (objects that fail a
check), unexplained_hole_s (camera time neither footage nor a gap row, from each camera's
first to its last footage), max_upload_lag_s (index time minus segment end; the outage's
backlog included) and the same outside the outage, timestamp_error_p99_ms (segment starts
against the simulator's send time of the keyframe they begin with), rss_growth_mb per
process (resident memory at the end minus after the warm-up: flat means near 0).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml
from moto.server import ThreadedMotoServer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from camerahub.db.engine import open_database  # noqa: E402
from camerahub.storage.s3store import S3Settings, S3Store, make_client  # noqa: E402
from simulator.launcher import SimulatorProcess  # noqa: E402
from simulator.testing import free_port, isolated_args  # noqa: E402
from tests.support.integrity import check_footage, coverage  # noqa: E402
from tests.support.tcpproxy import TcpProxy  # noqa: E402

SUBNET = 75  # 127.0.75.x / 127.0.76.x (record_bench uses 71, record_split_bench 73)
FAULTS = ("drop", "stall", "offline")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float:
    """Resident set size of a process now, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def config(cameras: int, ports: dict, endpoint: str, bucket: str, data: Path,
           segment_s: float) -> dict:
    """The deployment: every simulated camera, S3 through the proxy."""
    hq = ports["hq_base"].rsplit(".", 1)[0]
    return {
        "sites": [{"id": "hq", "name": "本庁舎", "kind": "headquarters"}],
        "org": {"departments": [{"id": "d", "name": "部", "divisions": [
            {"id": "v", "name": "分野", "rooms": [{"id": "r", "name": "室", "site": "hq"}]}]}]},
        "credentials": [{"id": "cam", "username": "admin",
                         "password_env": "CAMERAHUB_CAMERA_PASSWORD"}],
        "defaults": {"port": ports["port"], "credential": "cam"},
        "cameras": [{"id": f"cam-{i:03d}", "name": f"カメラ{i}", "site": "hq", "room": "r",
                     "address": f"{hq}.{i}"} for i in range(1, cameras + 1)],
        "storage": {"backend": "s3", "s3": {"bucket": bucket, "endpoint_url": endpoint,
                                            "path_style": True, "region": "us-east-1"}},
        "recorder": {"segment_seconds": segment_s, "upload_workers": 8, "read_timeout_s": 5,
                     "reconnect_min_s": 1, "reconnect_max_s": 10},
        "data_dir": str(data),
    }


class Chaos(threading.Thread):
    """Breaks healthy cameras now and then (at most a tenth at once) and heals them later."""

    def __init__(self, control: str, addresses: list[str], rng: random.Random,
                 hold_s: tuple[float, float], every_s: tuple[float, float]) -> None:
        super().__init__(name="chaos", daemon=True)
        self.control, self.addresses, self.rng = control, addresses, rng
        self.hold_s, self.every_s = hold_s, every_s
        self.stop = threading.Event()
        self.applied: list[dict] = []
        self.http = httpx.Client(base_url=control, timeout=30)

    def run(self) -> None:
        broken: dict[str, float] = {}
        limit = max(1, len(self.addresses) // 10)
        while not self.stop.wait(self.rng.uniform(*self.every_s)):
            now = time.monotonic()
            for addr, heal_at in list(broken.items()):
                if heal_at <= now:
                    self.http.delete(f"/cameras/{addr}/faults")
                    del broken[addr]
            if len(broken) < limit:
                addr = self.rng.choice([a for a in self.addresses if a not in broken])
                fault = self.rng.choice(FAULTS)
                body = ({"drop_after": round(self.rng.uniform(2, 8), 1)} if fault == "drop"
                        else {fault: True})
                self.http.post(f"/cameras/{addr}/faults", json=body)
                broken[addr] = now + self.rng.uniform(*self.hold_s)
                self.applied.append({"camera": addr, "fault": fault})
        for addr in broken:
            self.http.delete(f"/cameras/{addr}/faults")


def sent_keyframes(control: str, addresses: list[str]) -> dict[str, list[float]]:
    """Per camera address, the wall times (s) at which the simulator sent main keyframes."""
    out: dict[str, list[float]] = {}
    with httpx.Client(base_url=control, timeout=30) as http:
        for addr in addresses:
            sent = http.get(f"/cameras/{addr}/sent").json().get("main", {})
            out[addr] = [k["wall"] for k in sent.get("keyframes", [])]
    return out


def timestamp_errors(segments, address_of: dict[str, str],
                     keyframes: dict[str, set[float]]) -> list[float]:
    """|segment start - send time of the nearest keyframe| in ms, where one was logged."""
    errors = []
    for seg in segments:
        times = sorted(keyframes.get(address_of[seg.camera_id], ()))
        if not times:
            continue
        start = seg.start.replace(tzinfo=UTC).timestamp()
        i = bisect.bisect_left(times, start)
        near = [times[j] for j in (i - 1, i) if 0 <= j < len(times)]
        best = min(near, key=lambda t: abs(t - start))
        if abs(best - start) < 0.5:  # the keyframe this segment begins with
            errors.append(abs(best - start) * 1000)
    return errors


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * (len(values) - 1) + 0.5))], 1)


def main() -> None:  # noqa: PLR0915 - one straight scenario
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="20 s instead of 30 minutes, every 4th object decoded")
    parser.add_argument("--minutes", type=float, help="how long to record (default 30)")
    parser.add_argument("--cameras", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1414)
    parser.add_argument("--segment-seconds", type=float, default=10.0)
    parser.add_argument("--decode-every", type=int,
                        help="decode every Nth object (all are hashed); default 1: all")
    args = parser.parse_args()
    minutes = args.minutes or (1 / 3 if args.quick else 30.0)
    decode_every = args.decode_every or (4 if args.quick else 1)
    t0 = time.monotonic()
    seconds = minutes * 60
    outage_s = seconds * 5 / 30  # 5 minutes of 30, the same share of a shorter run
    rng = random.Random(args.seed)
    segment_s = min(args.segment_seconds, 4.0) if args.quick else args.segment_seconds

    with tempfile.TemporaryDirectory(prefix="camerahub-soak-") as tmp:
        work = Path(tmp)
        sim_args, ports = isolated_args(SUBNET)
        sim = SimulatorProcess([*sim_args, "--cameras", str(args.cameras), "--hq",
                                str(args.cameras), "--main-size", "640x360"])
        moto = proxy = rec = None
        try:
            log(f"simulator ready in {sim.wait_ready(900):.1f} s")
            moto_port = free_port()
            moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
            moto.start()
            moto_url = f"http://127.0.0.1:{moto_port}"
            proxy = TcpProxy(moto_port).start()
            env = {**os.environ, "AWS_ACCESS_KEY_ID": "soak", "AWS_SECRET_ACCESS_KEY": "soak",
                   "AWS_EC2_METADATA_DISABLED": "true", "CAMERAHUB_CAMERA_PASSWORD": "admin",
                   "CAMERAHUB_DATABASE_URL": f"sqlite:///{work / 'camerahub.db'}",
                   "PYTHONPATH": str(ROOT)}
            os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                   "AWS_EC2_METADATA_DISABLED")})
            bucket = f"soak-{uuid.uuid4().hex[:8]}"
            make_client(S3Settings(bucket=bucket, endpoint_url=moto_url, path_style=True)
                        ).create_bucket(Bucket=bucket)
            data = config(args.cameras, ports, proxy.endpoint, bucket, work / "data", segment_s)
            cfg_path = work / "camerahub.yaml"
            cfg_path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
            address_of = {c["id"]: c["address"] for c in data["cameras"]}
            addresses = list(address_of.values())
            control = f"http://127.0.0.1:{ports['control_port']}"
            cli = [sys.executable, "-m", "camerahub.cli", "--config", str(cfg_path)]
            subprocess.run([*cli, "deploy", "apply", "-f", str(cfg_path)], env=env, check=True,
                           stdout=subprocess.DEVNULL)
            rec = subprocess.Popen([*cli, "record"], env=env, stdout=subprocess.PIPE, text=True)
            rec.stdout.readline()  # "recording N cameras"
            started = time.monotonic()
            log(f"recording {args.cameras} cameras for {minutes:g} min; S3 outage "
                f"{outage_s:.0f} s from {seconds / 3:.0f} s")
            quick = seconds < 300
            chaos = Chaos(control, addresses, rng,
                          hold_s=(3, 10) if quick else (10, 60),
                          every_s=(0.5, 2) if quick else (2, 8))
            chaos.start()
            warm_s = min(60.0, seconds / 4)
            rss: dict[str, list[float]] = {"recorder": [], "simulator": []}
            keyframes: dict[str, set[float]] = {a: set() for a in addresses}
            next_sent = started + min(120.0, seconds / 2)
            outage = (started + seconds / 3, started + seconds / 3 + outage_s)
            cut = False
            while (now := time.monotonic()) < started + seconds:
                if not cut and now >= outage[0]:
                    proxy.cut()
                    cut, outage_wall = True, [datetime.now(UTC), None]
                    log("S3 line cut")
                if cut and outage_wall[1] is None and now >= outage[1]:
                    proxy.restore()
                    outage_wall[1] = datetime.now(UTC)
                    log("S3 line restored")
                if now - started >= warm_s:
                    rss["recorder"].append(rss_mb(rec.pid))
                    rss["simulator"].append(rss_mb(sim.pid))
                if now >= next_sent:  # the simulator keeps the last 600 keyframes
                    for addr, times in sent_keyframes(control, addresses).items():
                        keyframes[addr].update(times)
                    next_sent = now + 120
                time.sleep(min(5.0, max(0.1, started + seconds - now)))
            chaos.stop.set()
            chaos.join(60)
            for addr, times in sent_keyframes(control, addresses).items():
                keyframes[addr].update(times)
            rss["recorder"].append(rss_mb(rec.pid))
            rss["simulator"].append(rss_mb(sim.pid))
            # let the backlog drain (bounded): no segment waits longer than two segments'
            # time; then stop the recorder as an operator would
            ready = work / "data" / "spool" / "ready"
            drain_until = time.monotonic() + max(120.0, outage_s)
            while _oldest_ready_s(ready) > 2 * segment_s and time.monotonic() < drain_until:
                time.sleep(1)
            ended = datetime.now(UTC)
            recorded_for_s = time.monotonic() - started
            rec.send_signal(signal.SIGTERM)
            rec.wait(300)
            log(f"recorder exited with {rec.returncode}; checking every object")

            _, sessions = open_database(env["CAMERAHUB_DATABASE_URL"])
            store = S3Store(S3Settings(bucket=bucket, endpoint_url=moto_url, path_style=True))
            checking_at = time.monotonic()
            report = check_footage(store, sessions, decode_every=decode_every)
            log(f"checked {report.objects} objects in {time.monotonic() - checking_at:.0f} s")
            segs = report.segments
            spool = work / "data" / "spool"
            left = [p for d in ("ready", "incoming") for p in (spool / d).glob("*.ts")]
            quarantined = list((spool / "quarantine").glob("*.ts"))  # whole segments
            not_indexed = [x for x in report.problems if x.startswith("stored, not indexed")]
            corrupt = [x for x in report.problems if not x.startswith(
                ("stored, not indexed", "indexed, not stored"))]
            holes = 0.0
            for cam in address_of:
                mine = [x for x in segs if x.camera_id == cam]
                if mine:
                    holes += coverage(sessions, cam, min(x.start for x in mine),
                                      max(x.end for x in mine))["unexplained_s"]
            lags = [((x.stored_at - x.end).total_seconds(), x) for x in segs]
            out_lags = [lag for lag, x in lags
                        if not _during(x, outage_wall[0], outage_wall[1] or ended)]
            errors = timestamp_errors(segs, address_of, keyframes)
            figures = {
                "cameras": args.cameras, "minutes": round(minutes, 2),
                "recorder_ran_min": round(recorded_for_s / 60, 2),
                "recorded_hours": round(sum(x.duration_ms for x in segs) / 3.6e6, 3),
                "segments": len(segs),
                "segments_lost": len(left) + len(quarantined) + len(not_indexed),
                "segments_corrupt": len(corrupt),
                "unexplained_hole_s": round(holes, 3),
                "max_upload_lag_s": round(max((lag for lag, _ in lags), default=0), 1),
                "max_upload_lag_outside_outage_s": round(max(out_lags, default=0), 1),
                "timestamp_error_p99_ms": percentile(errors, 0.99),
                "timestamp_error_p50_ms": percentile(errors, 0.5),
                "timestamps_compared": len(errors),
                "rss_growth_mb": {k: round(v[-1] - v[0], 1) if v else None
                                  for k, v in rss.items()},
                "rss_end_mb": {k: round(v[-1], 1) if v else None for k, v in rss.items()},
                "faults_applied": len(chaos.applied),
                "s3_outage_s": round(outage_s, 1),
                "objects_decoded": report.objects,
                "recorder_exit": rec.returncode,
                "objects_decoded_every": decode_every,
                "wall_s": round(time.monotonic() - t0, 1),
                "problems": (report.problems + [f"left in spool: {p.name}" for p in left]
                             + [f"quarantined: {p.name}" for p in quarantined])[:20],
            }
            if lags:
                figures["upload_lag_p50_s"] = round(statistics.median(x for x, _ in lags), 2)
        finally:
            if rec is not None and rec.poll() is None:
                rec.kill()
            if proxy is not None:
                proxy.stop()
            if moto is not None:
                moto.stop()
            sim.stop()
    print(json.dumps(figures, ensure_ascii=False), flush=True)


def _oldest_ready_s(ready: Path) -> float:
    """Age in seconds of the oldest segment waiting in ready/ (0 when none)."""
    now, oldest = time.time(), 0.0
    for path in ready.glob("*.ts"):
        try:
            oldest = max(oldest, now - path.stat().st_mtime)
        except FileNotFoundError:
            continue  # uploaded meanwhile
    return oldest


def _during(seg, start: datetime, end: datetime) -> bool:
    """Whether a segment was waiting for upload during the outage."""
    return seg.end.replace(tzinfo=UTC) <= end and seg.stored_at.replace(tzinfo=UTC) >= start


if __name__ == "__main__":
    main()
