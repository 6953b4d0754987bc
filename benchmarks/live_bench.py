"""Live view under load: fan-out, many cameras, and a 25-tile wall in headless browsers.

The real app (hub, WebSocket route, authorization, audit) runs in this process under
uvicorn on loopback; the simulated cameras run as a `camerahub-sim` subprocess and the
WebSocket viewers in a client subprocess, so the CPU and memory figures are the hub's
process alone (uvicorn, hub threads, database, audit). Three runs:

1. one camera to V viewers (WebSocket clients);
2. C cameras, one viewer each;
3. a 25-tile wall in B headless Chromium browsers (Debian's chromium/chromedriver).

Figures: upstream RTSP sessions opened (must equal the cameras, not the viewers); the
latency the hub adds, from a frame leaving the demuxer to the viewer's socket receiving it
(measured by the client against the hub's stamp in each message; the frames since the
latest keyframe that a joining viewer gets at once are old by design and not counted);
the hub's CPU (percent of one core) and RSS; from the browsers, tiles playing, time to the
first picture per tile and glass-to-glass: the simulator's send time of a keyframe (its
own log) to the moment the browser displays that frame (requestVideoFrameCallback's
expected display time).

    python benchmarks/live_bench.py            # 50 viewers, 100 cameras, 4 browsers
    python benchmarks/live_bench.py --quick    # 50 viewers, 25 cameras, 1 browser (< 60 s)
    python benchmarks/live_bench.py --parts cameras --cameras 100   # one part, to dig in

The browsers' wall is the live page itself: one WebSocket per page carrying every tile.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STAMP_BYTES = 8


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def in_s(ms: float | None) -> float | None:
    return None if ms is None else round(ms / 1000, 2)


# --- the client subprocess ---------------------------------------------------------------


async def _viewer(url: str, seconds: float, out: dict) -> None:
    import struct

    from websockets.asyncio.client import connect
    begun = time.monotonic()
    try:
        async with connect(url, max_size=2**24, open_timeout=30) as ws:
            joined = time.time() * 1000.0
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    msg = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
                except TimeoutError:
                    break
                if isinstance(msg, str):
                    continue
                now = time.time() * 1000.0
                stamp = struct.unpack_from(">d", msg)[0]
                if stamp == 0:
                    continue
                if out["first"] is None:
                    out["first"] = time.monotonic() - begun
                out["frames"] += 1
                if stamp >= joined:  # frames from before we joined are the start-up backlog
                    out["lat"].append(now - stamp)
                    out["at"].append(now)
    except Exception as exc:  # noqa: BLE001 - reported, the run goes on
        out["error"] = f"{type(exc).__name__}: {exc}"


async def _clients(urls: list[str], seconds: float) -> list[dict]:
    outs = [{"first": None, "frames": 0, "lat": [], "at": [], "error": None} for _ in urls]
    await asyncio.gather(*(_viewer(u, seconds, o) for u, o in zip(urls, outs, strict=True)))
    return outs


def client_main(path: str, seconds: float) -> None:
    urls = json.loads(Path(path).read_text())
    outs = asyncio.run(_clients(urls, seconds))
    lat = [x for o in outs for x in o["lat"]]
    # once every viewer has its first frame (the upstreams' start-up is over): steady state
    settled = max((o["at"][0] for o in outs if o["at"]), default=0.0)
    steady = [x for o in outs for x, at in zip(o["lat"], o["at"], strict=True) if at >= settled]
    print(json.dumps({"viewers": len(urls), "receiving": sum(1 for o in outs if o["frames"]),
                      "frames": sum(o["frames"] for o in outs),
                      "errors": sorted({o["error"] for o in outs if o["error"]})[:5],
                      "lat_p50": pct(lat, 0.5), "lat_p99": pct(lat, 0.99),
                      "steady_lat_p99": pct(steady, 0.99), "steady_frames": len(steady),
                      "first_p95": pct([o["first"] for o in outs if o["first"]], 0.95)}))


# --- the hub side ------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Bench:
    def __init__(self, server, sim) -> None:
        import httpx

        from tests.support.live import token
        self.server, self.sim = server, sim
        self.hub = server.app.state.camerahub.live
        self.http = httpx.Client(timeout=60)
        self.bearer = {"Authorization": f"Bearer {token(server.url, 'kiki-sato')}"}

    def ws_url(self, camera: str) -> str:
        resp = self.http.post(f"{self.server.url}/api/v1/cameras/{camera}/media-token",
                              headers=self.bearer)
        resp.raise_for_status()
        return (f"ws://127.0.0.1:{self.server.port}/api/v1/cameras/{camera}/live.ws"
                f"?access_token={resp.json()['access_token']}")

    def run_clients(self, urls: list[str], seconds: float) -> dict:
        """Viewers in a subprocess; the hub's CPU over the same window."""
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(urls, fh)
        opened = self.hub.upstreams_opened
        self.hub.sent_latency_ms.clear()
        cpu0, wall0 = time.process_time(), time.monotonic()
        proc = subprocess.run([sys.executable, __file__, "--client", fh.name,
                               "--seconds", str(seconds)], capture_output=True, text=True,
                              check=False, timeout=seconds + 120)
        cpu = (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100
        os.unlink(fh.name)
        if proc.returncode != 0:
            raise SystemExit(f"client failed: {proc.stderr[-2000:]}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        sent = list(self.hub.sent_latency_ms)
        out.update(upstream_sessions=self.hub.upstreams_opened - opened,
                   cpu_percent_one_core=round(cpu, 1), rss_mb=rss_mb(),
                   hub_send_p50_ms=pct(sent, 0.5), hub_send_p99_ms=pct(sent, 0.99))
        return out

    def idle(self, timeout: float = 60) -> None:
        """Wait until the hub closed every upstream (linger is short in the bench)."""
        deadline = time.monotonic() + timeout
        while self.hub.stats() and time.monotonic() < deadline:
            time.sleep(0.2)


def wall(bench: Bench, browsers: int, cameras: list[str], seconds: float) -> dict:
    """B headless browsers each open a 25-tile wall; tiles playing, first picture, g2g."""
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    results = []
    with ThreadPoolExecutor(browsers) as pool:
        results = list(pool.map(lambda i: one_browser_safe(bench, seconds, i), range(browsers)))
    tiles = [t for r in results for t in r["tiles"]]
    errors = sorted({r["error"] for r in results if r.get("error")})
    # since the page began to load (a fresh load: performance.now() counts from it)
    firsts = [t["first_ms"] for t in tiles if t["first_ms"]]
    steps = {step: pct([t["marks"][step] for t in tiles if step in t["marks"]], 0.5)
             for step in STEPS}
    g2g = glass_to_glass(bench, cameras, [t for r in results for t in r["tiles"]])
    # each upstream's own start-up (s since it began opening: ONVIF URI, RTSP open, init,
    # first keyframe), kept by the main loop while the wall's channels were open
    timings = list(bench.timings.values())
    upstream = {step: pct([t[step] for t in timings if step in t], 0.5)
                for step in ("url", "open", "init", "keyframe")}
    hub_to_display = [t["delay_ms"] for t in tiles if t["delay_ms"]]
    return {"wall_tiles": 25 * browsers, "wall_tiles_playing": sum(t["playing"] for t in tiles),
            "wall_errors": errors,
            # tiles not playing at the end: their state and the last end reason they were told
            "wall_tiles_not_playing": dict(Counter(
                f"{t['state']}/{t['ended']}/{max(t['marks'], key=t['marks'].get, default='-')}"
                f"/b{t['browser']}/r{t['restarts']}:{t['restart_error']}" for t in tiles
                if not t["playing"])),
            "wall_tile_restarts": sum(t["restarts"] for t in tiles),
            "wall_first_picture_p50_s": in_s(pct(firsts, 0.5)),
            "wall_first_picture_p95_s": in_s(pct(firsts, 0.95)),
            "wall_first_picture_max_s": in_s(max(firsts, default=None)),
            "wall_steps_p50_ms": steps, "wall_upstream_steps_p50_s": upstream,
            "wall_tiles_per_browser": [len(r["tiles"]) for r in results],
            "wall_all_playing_s": max(r["all_playing_s"] or 0 for r in results),
            "hub_to_display_p50_ms": pct(hub_to_display, 0.5),
            "glass_to_glass_p50_ms": pct(g2g, 0.5), "glass_to_glass_p95_ms": pct(g2g, 0.95),
            "glass_to_glass_samples": len(g2g), "browsers": browsers}


TILES_JS = """
return [...document.querySelectorAll('#live-grid video')].map((v) => ({
  camera: v.dataset.camera, playing: v.dataset.state === 'playing' && v.readyState >= 2,
  state: v.dataset.state, ended: v.closest('figure').dataset.endReason || null,
  restarts: Number(v.dataset.restarts || 0), restart_error: v.dataset.restartError || null,
  time: v.currentTime, first_ms: Number(v.dataset.firstPictureAt || 0),
  delay_ms: Number(v.dataset.latencyMs || 0), shown: v.liveShown || [],
  marks: v.liveMarks || {}}));
"""
# A tile's start-up steps (live.js marks them, ms since the page began to load): token
# issued, MediaSource open, socket open, start message, init segment, first fragment, first
# picture on screen.
STEPS = ("start", "token", "source", "socket", "started", "init", "frame", "picture")


def one_browser_safe(bench: Bench, seconds: float, index: int = 0) -> dict:
    """one_browser, a failure (e.g. a start-up timeout on a loaded machine) counted as 0."""
    try:
        return one_browser(bench, seconds, index)
    except Exception as exc:  # noqa: BLE001 - reported in the figures
        log(f"browser failed: {type(exc).__name__}: {exc}")
        return {"tiles": [], "all_playing_s": None, "error": type(exc).__name__}


def one_browser(bench: Bench, seconds: float, index: int = 0) -> dict:
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.support.deployment import PASSWORD
    from tests.ui.conftest import CHROMEDRIVER, CHROMIUM, FLAGS
    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="live-bench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(120)
        wait = WebDriverWait(driver, 120, poll_frequency=0.1)
        base = bench.server.url
        driver.get(f"{base}/")
        wait.until(lambda d: d.find_elements("css selector", "#signin"))
        driver.find_element("css selector", "input[name=username]").send_keys("kiki-sato")
        driver.find_element("css selector", "input[name=password]").send_keys(PASSWORD)
        driver.find_element("css selector", "#signin").click()
        # #signout is always in the page (hidden until signed in): wait until it shows, or
        # the navigation below aborts a sign-in still hashing its password
        wait.until(lambda d: any(e.is_displayed()
                                 for e in d.find_elements("css selector", "#signout")))
        # The wall opens as a fresh page load with its 25 tiles (the sign-in stays in the
        # tab's sessionStorage): every time below counts from the page's navigation start.
        driver.get("about:blank")
        opened = time.monotonic()
        driver.get(f"{base}/#/live?layout=25")
        all_playing = None
        deadline = time.monotonic() + 30 + seconds
        while time.monotonic() < deadline:
            tiles = driver.execute_script(TILES_JS)
            if all_playing is None and len(tiles) == 25 and all(t["playing"] for t in tiles):
                all_playing = time.monotonic() - opened
                deadline = min(deadline, time.monotonic() + seconds)
            time.sleep(0.25)
        tiles = driver.execute_script(TILES_JS)
        for tile in tiles:
            tile["browser"] = index
        out = {"tiles": tiles, "all_playing_s": round(all_playing, 2) if all_playing else None}
        if not tiles:  # say what the page showed instead of a wall
            text = driver.execute_script("return document.body.innerText") or ""
            out["error"] = f"no tiles at {driver.current_url}: {' '.join(text.split())[:160]}"
        return out
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def glass_to_glass(bench: Bench, cameras: list[str], tiles: list[dict]) -> list[float]:
    """Keyframes shown in a browser: display time minus the simulator's send time.

    A shown frame's stamp is the hub's receive time; the hub's own keyframe log says which
    stamps are keyframes; the simulator's log says when each keyframe's first packet left
    (the latest keyframe sent at or before the hub received it)."""
    sims = {cam: bench.sim_ids[cam] for cam in cameras}
    kf = bench.keyframes
    out = []
    for tile in tiles:
        cam = tile["camera"]
        received = {round(r * 1000, 1) for r in kf.get(cam, [])}
        sent = sorted(k["wall"] * 1000 for log_ in bench.sent_log(sims[cam]).values()
                      for k in log_["keyframes"])
        for stamp, shown in tile["shown"]:
            if round(stamp, 1) not in received:
                continue
            i = bisect.bisect_right(sent, stamp) - 1
            if i >= 0:
                out.append(shown - sent[i])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="25 cameras, 1 browser, short runs")
    ap.add_argument("--cameras", type=int, help="cameras of the one-viewer-each run")
    ap.add_argument("--parts", default="fanout,cameras,wall",
                    help="comma-separated runs: fanout, cameras, wall (default all)")
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--seconds", type=float, default=10, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_main(args.client, args.seconds)
        return
    import httpx
    import yaml

    from camerahub.live import LiveOptions
    from tests.support.deployment import deploy_text, make_app, set_all_passwords
    from tests.support.live import serving
    from tests.support.simulators import SimProcess, nakano_on, running_process

    viewers, cameras_n = 50, args.cameras or (25 if args.quick else 100)
    parts = set(args.parts.split(","))
    skipped = {"upstream_sessions": None, "receiving": None, "lat_p50": None, "lat_p99": None,
               "hub_send_p99_ms": None, "cpu_percent_one_core": 0.0, "rss_mb": 0.0}
    browsers, seconds = (1, 6) if args.quick else (4, 20)
    t0 = time.monotonic()
    os.environ["CAMERAHUB_CAMERA_PASSWORD"] = "admin"
    with tempfile.TemporaryDirectory() as tmp, \
            running_process("--cameras", "100", subnet=97) as (proc, ports):
        sim = SimProcess(proc, 97, ports)
        data = nakano_on(sim)
        url = f"sqlite:///{tmp}/db.sqlite"
        cfg = deploy_text(url, yaml.safe_dump(data, allow_unicode=True), "live-bench.yaml")
        set_all_passwords(url, cfg)
        order = [c["id"] for c in sorted(data["cameras"], key=lambda c: (c["site"], c["id"]))]
        app = make_app(url, cfg, data_dir=Path(tmp), live=LiveOptions(linger_s=2.0))
        with serving(app) as server:
            bench = Bench(server, sim)
            bench.sim_ids = {c["id"]: c["address"] for c in data["cameras"]}
            bench.sent_log = lambda sid: httpx.get(f"{sim.control}/cameras/{sid}/sent",
                                                   timeout=30).json()
            log(f"setup {time.monotonic() - t0:.1f} s")
            fan = many = skipped
            if "fanout" in parts:
                fan = bench.run_clients([bench.ws_url(order[0]) for _ in range(viewers)],
                                        seconds)
                log(f"1 camera -> {viewers} viewers: {fan}")
                bench.idle()
            if "cameras" in parts:
                many = bench.run_clients([bench.ws_url(c) for c in order[:cameras_n]], seconds)
                log(f"{cameras_n} cameras, one viewer each: {many}")
                bench.idle()
            holder: dict[str, list[float]] = {}
            bench.keyframes = holder
            bench.timings = {}
            wall_cams = order[:25]
            opened = bench.hub.upstreams_opened
            stop = threading.Event()

            def keep_keyframes():
                while not stop.is_set():
                    for key, stat in bench.hub.stats().items():
                        bench.timings[(key, stat["started_at"])] = stat["timings"]
                    for key, times in bench.hub.keyframes_received().items():
                        seen = holder.setdefault(key, [])
                        seen.extend(t for t in times if not seen or t > seen[-1])
                    stop.wait(0.5)
            keeper = threading.Thread(target=keep_keyframes, daemon=True)
            keeper.start()
            cpu0, wall0 = time.process_time(), time.monotonic()
            walls = wall(bench, browsers, wall_cams, seconds) if "wall" in parts else {}
            stop.set()
            keeper.join(5)
            walls["wall_upstream_sessions"] = bench.hub.upstreams_opened - opened
            walls["wall_cpu_percent_one_core"] = round(
                (time.process_time() - cpu0) / (time.monotonic() - wall0) * 100, 1)
            log(f"wall: {walls}")
    result = {
        "viewers": viewers, "cameras": cameras_n,
        "upstream_sessions": many["upstream_sessions"],
        "fanout_upstream_sessions": fan["upstream_sessions"],
        "fanout_receiving": fan["receiving"],
        "added_latency_p50_ms": fan["lat_p50"], "added_latency_p99_ms": fan["lat_p99"],
        "cameras_added_latency_p50_ms": many["lat_p50"],
        "cameras_added_latency_p99_ms": many["lat_p99"],
        "cameras_steady_latency_p99_ms": many.get("steady_lat_p99"),
        "hub_send_p99_ms": max(filter(None, [fan["hub_send_p99_ms"],
                                             many["hub_send_p99_ms"]]), default=None),
        "cameras_receiving": many["receiving"],
        "cpu_percent_one_core": max(fan["cpu_percent_one_core"], many["cpu_percent_one_core"]),
        "fanout_cpu_percent_one_core": fan["cpu_percent_one_core"],
        "cameras_cpu_percent_one_core": many["cpu_percent_one_core"],
        "rss_mb": max(fan["rss_mb"], many["rss_mb"], rss_mb()),
        **walls, "quick": args.quick, "seconds": round(time.monotonic() - t0, 1)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
