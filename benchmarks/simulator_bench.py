"""Benchmark: 100 simulated cameras, one RTSP client per camera pulling the main profile.

Reports the simulator's CPU (% of one core, from /proc/PID/stat over the window) and RSS.
The clients run in a separate process and only count bytes (no decoding), so they stay cheap.
Usage: python benchmarks/simulator_bench.py [--quick] [--cold] [--bitrate 3M --main-size WxH]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from simulator.launcher import SimulatorProcess  # noqa: E402

HQ_BASE, FACILITY_BASE = "127.0.41.1", "127.0.42.1"  # a range no test uses
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port(host: str = "127.0.41.1") -> int:
    """A TCP port currently free on the benchmark's address range."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """Resident memory of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- the client side (runs in its own process) ---------------------------------------------


class Client:
    """A raw RTSP-over-TCP client that counts interleaved RTP bytes and packets."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.url, self.user, self.password = url, user, password
        self.cseq = 0
        self.packets = 0
        self.bytes = 0
        self.session = ""
        self.auth = ""

    async def request(self, reader, writer, method: str, url: str, extra: str = "") -> dict:
        """Send one request (retrying once with Digest after a 401); return headers."""
        for _ in range(2):
            self.cseq += 1
            head = f"{method} {url} RTSP/1.0\r\nCSeq: {self.cseq}\r\n{extra}"
            if self.auth:
                head += f"Authorization: {self.digest(method, url)}\r\n"
            if self.session:
                head += f"Session: {self.session}\r\n"
            writer.write((head + "\r\n").encode())
            status, headers = await self.read_response(reader)
            if status == 401 and not self.auth:
                self.auth = headers["www-authenticate"]
                continue
            if status != 200:
                raise RuntimeError(f"{method} {url}: {status}")
            return headers
        raise RuntimeError(f"{method} {url}: unauthorized")

    def digest(self, method: str, url: str) -> str:
        realm = re.search(r'realm="([^"]*)"', self.auth).group(1)
        nonce = re.search(r'nonce="([^"]*)"', self.auth).group(1)

        def md5(s: str) -> str:
            return hashlib.md5(s.encode()).hexdigest()
        ha1 = md5(f"{self.user}:{realm}:{self.password}")
        response = md5(f"{ha1}:{nonce}:{md5(f'{method}:{url}')}")
        return (f'Digest username="{self.user}", realm="{realm}", nonce="{nonce}", '
                f'uri="{url}", response="{response}"')

    async def read_response(self, reader) -> tuple[int, dict]:
        """Read one RTSP response, skipping interleaved packets in front of it."""
        while True:
            first = await reader.readexactly(1)
            if first == b"$":
                hdr = await reader.readexactly(3)
                await reader.readexactly(int.from_bytes(hdr[1:], "big"))
                continue
            head = (first + await reader.readuntil(b"\r\n\r\n")).decode()
            lines = head.split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in
                       (line.partition(":") for line in lines[1:] if line)}
            length = int(headers.get("content-length", 0))
            if length:
                await reader.readexactly(length)
            return int(lines[0].split()[1]), headers

    async def run(self, playing: asyncio.Event, counter: list, stop: asyncio.Event) -> None:
        """Set up, play, then count packets until told to stop."""
        host, port = re.match(r"rtsp://([^:/]+):(\d+)", self.url).groups()
        reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 20)
        await self.request(reader, writer, "DESCRIBE", self.url, "Accept: application/sdp\r\n")
        headers = await self.request(reader, writer, "SETUP", self.url + "/trackID=1",
                                     "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
        self.session = headers["session"].split(";")[0]
        await self.request(reader, writer, "PLAY", self.url, "Range: npt=0.000-\r\n")
        counter[0] += 1
        if counter[0] == counter[1]:
            playing.set()
        reading = asyncio.ensure_future(self.count(reader))
        await stop.wait()
        reading.cancel()
        writer.close()

    async def count(self, reader) -> None:
        while True:
            hdr = await reader.readexactly(4)
            if hdr[0] != 0x24:
                await reader.readuntil(b"\r\n\r\n")
                continue
            size = int.from_bytes(hdr[2:], "big")
            await reader.readexactly(size)
            if hdr[1] == 0:
                self.packets += 1
                self.bytes += size


async def run_clients(urls: list[str], user: str, password: str, seconds: float) -> dict:
    """Play every URL, announce `playing`, wait for `measure`, count for `seconds`."""
    clients = [Client(u, user, password) for u in urls]
    playing, stop = asyncio.Event(), asyncio.Event()
    counter = [0, len(clients)]
    tasks = [asyncio.ensure_future(c.run(playing, counter, stop)) for c in clients]
    await asyncio.wait_for(playing.wait(), 120)
    print("playing", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # the parent says "measure"
    before = [(c.packets, c.bytes) for c in clients]
    await asyncio.sleep(seconds)
    packets = sum(c.packets - b[0] for c, b in zip(clients, before, strict=True))
    octets = sum(c.bytes - b[1] for c, b in zip(clients, before, strict=True))
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"packets": packets, "bytes": octets, "starved": sum(
        1 for c, b in zip(clients, before, strict=True) if c.packets == b[0])}


def client_main(args: argparse.Namespace) -> None:
    urls = json.loads(sys.stdin.readline())
    result = asyncio.run(run_clients(urls, "admin", "admin", args.seconds))
    print(json.dumps(result), flush=True)


# -- the driver --------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="15 s window, whole run under 60 s")
    p.add_argument("--seconds", type=float, help="measurement window (default 60, quick 15)")
    p.add_argument("--cameras", type=int, default=100)
    p.add_argument("--cold", action="store_true", help="start from an empty loop cache")
    p.add_argument("--bitrate", help="heavy main stream, e.g. 3M")
    p.add_argument("--main-size", help="e.g. 1920x1080")
    p.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.seconds = args.seconds or (15.0 if args.quick else 60.0)
    if args.client:
        client_main(args)
        return
    print(json.dumps(drive(args)))


def drive(args: argparse.Namespace) -> dict:
    """Start the simulator, the client process, measure, and collect the figures."""
    tmp = tempfile.TemporaryDirectory() if args.cold else None
    cache = Path(tmp.name) if tmp else REPO / ".sim-cache"
    cold = not all_cached(cache, args)
    http, rtsp = free_port(), free_port()
    sim_args = ["--cameras", str(args.cameras), "--hq-base", HQ_BASE,
                "--facility-base", FACILITY_BASE, "--port", str(http), "--rtsp-port", str(rtsp),
                "--control-port", "off", "--cache-dir", str(cache), "--log-level", "WARNING"]
    if args.bitrate:
        sim_args += ["--bitrate", args.bitrate]
    if args.main_size:
        sim_args += ["--main-size", args.main_size]
    sim = SimulatorProcess(sim_args)
    try:
        ready = sim.wait_ready(600)
        print(f"simulator ready in {ready:.1f} s ({'cold' if cold else 'warm'})",
              file=sys.stderr, flush=True)
        figures = measure(sim, rtsp, args)
        figures.update(start_seconds=round(ready, 2), start="cold" if cold else "warm")
        return figures
    finally:
        sim.stop()
        if tmp:
            tmp.cleanup()


def all_cached(cache: Path, args: argparse.Namespace) -> bool:
    """Whether every loop this run needs is already in the cache (a warm start)."""
    from simulator.app import main_profile
    from simulator.config import Layout, default_cameras
    from simulator.media import cache_key
    layout = Layout(cameras=args.cameras, hq_base=HQ_BASE, facility_base=FACILITY_BASE,
                    main=main_profile(args.main_size, args.bitrate))
    return all((cache / cache_key(cam.label(), spec)).exists()
               for cam in default_cameras(layout) for spec in cam.profiles.values())


def measure(sim: SimulatorProcess, rtsp: int, args: argparse.Namespace) -> dict:
    """Run the clients and sample the simulator's CPU and memory over the window."""
    urls = [f"rtsp://{a}:{rtsp}/main" for a in addresses(args.cameras)]
    client = subprocess.Popen([sys.executable, __file__, "--client", "--seconds",
                               str(args.seconds)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    client.stdin.write(json.dumps(urls) + "\n")
    client.stdin.flush()
    if client.stdout.readline().strip() != "playing":
        raise RuntimeError("clients failed to start")
    time.sleep(1.0)  # let the first keyframe burst pass before measuring the steady state
    cpu0, t0 = cpu_seconds(sim.pid), time.monotonic()
    client.stdin.write("measure\n")
    client.stdin.flush()
    result = json.loads(client.stdout.readline())
    cpu1, t1 = cpu_seconds(sim.pid), time.monotonic()
    rss = rss_mb(sim.pid)
    client.wait(30)
    window = t1 - t0
    return {"cameras": args.cameras, "clients": len(urls), "seconds": round(window, 1),
            "cpu_percent_one_core": round(100 * (cpu1 - cpu0) / window, 1),
            "rss_mb": round(rss, 1), "packets": result["packets"], "bytes": result["bytes"],
            "mbit_per_s": round(result["bytes"] * 8 / window / 1e6, 2),
            "starved_clients": result["starved"], "bitrate": args.bitrate or "light"}


def addresses(cameras: int) -> list[str]:
    """Camera addresses as the simulator's default layout assigns them."""
    from simulator.config import Layout, default_cameras
    layout = Layout(cameras=cameras, hq_base=HQ_BASE, facility_base=FACILITY_BASE)
    return [cam.address for cam in default_cameras(layout)]


if __name__ == "__main__":
    main()
