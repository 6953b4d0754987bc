"""`camerahub-sim`: run simulated cameras until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from simulator.app import build_cameras, main_profile
from simulator.config import ConfigError, Layout, loopback
from simulator.core import Options, SimulatorCore, SimulatorError
from simulator.discovery import DiscoveryError, interface_address
from simulator.media import MediaError, default_cache_dir
from simulator.state import FaultSpecError

log = logging.getLogger("simulator")

# Errors that mean the arguments or the file are wrong (exit 2), not the run (exit 1).
INPUT_ERRORS = (ConfigError, FaultSpecError, DiscoveryError, ValueError)


def parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    p = argparse.ArgumentParser(prog="camerahub-sim", description=__doc__)
    p.add_argument("--cameras", type=int, default=100, help="number of cameras (default 100)")
    p.add_argument("--hq", type=int, help="how many of them are HQ cameras (default 55%%)")
    p.add_argument("--config", type=Path, help="YAML file with a 'cameras' list")
    p.add_argument("--port", type=int, default=8080, help="ONVIF HTTP port (default 8080)")
    p.add_argument("--rtsp-port", type=int, default=8554, help="RTSP port (default 8554)")
    p.add_argument("--username", default="admin")
    p.add_argument("--password", default="admin")
    p.add_argument("--interface", help="enable WS-Discovery multicast on this interface only")
    p.add_argument("--fault", action="append", default=[], metavar="TARGET:FAULT[=V][,...]",
                   help="TARGET is a camera id, an address or '*'; FAULT is offline, "
                        "drop=SECONDS, reject-auth, skew=SECONDS, replaced, stall, "
                        "garbage-rtp[=advance|jump] or random-bytes")
    p.add_argument("--control-port", default="127.0.0.1:8099", metavar="[HOST:]PORT|off",
                   help="loopback JSON control endpoint (default 127.0.0.1:8099)")
    p.add_argument("--hq-base", default="127.0.1.1", help="address of the first HQ camera")
    p.add_argument("--facility-base", default="127.0.2.1",
                   help="address of the first facility camera")
    p.add_argument("--bitrate", help="heavy main stream at this bitrate, e.g. 3M")
    p.add_argument("--main-size", help="main profile size, e.g. 1920x1080")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="encoded-loop cache (default $CAMERAHUB_SIM_CACHE or "
                        "~/.cache/camerahub-sim)")
    p.add_argument("--workers", type=int, help="encoder processes on a cold start")
    p.add_argument("--tls-cert", type=Path, metavar="PEM",
                   help="speak RTSP over TLS (rtsps://) with this certificate chain; it "
                        "should name every camera's address (needs --tls-key)")
    p.add_argument("--tls-key", type=Path, metavar="PEM", help="the certificate's key")
    p.add_argument("--onvif-https", action="store_true",
                   help="serve ONVIF over HTTPS too, with the same certificate (needs "
                        "--tls-cert)")
    p.add_argument("--log-level", default="INFO")
    return p


def parse_control(text: str) -> tuple[str, int] | None:
    """`PORT`, `HOST:PORT` or `off`."""
    if text.lower() in ("off", "none", ""):
        return None
    host, _, port = text.rpartition(":")
    return loopback(host or "127.0.0.1"), int(port)


def build(args: argparse.Namespace) -> SimulatorCore:
    """The engine for the parsed arguments."""
    layout = Layout(cameras=args.cameras, hq=args.hq, hq_base=args.hq_base,
                    facility_base=args.facility_base, username=args.username,
                    password=args.password, main=main_profile(args.main_size, args.bitrate))
    cameras = build_cameras(layout, args.config, args.fault)
    if args.interface:
        interface_address(args.interface)  # an unknown interface is an input error (exit 2)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise ValueError("give both --tls-cert and --tls-key, or neither")
    if args.onvif_https and args.tls_cert is None:
        raise ValueError("--onvif-https needs --tls-cert and --tls-key")
    options = Options(http_port=args.port, rtsp_port=args.rtsp_port,
                      control=parse_control(args.control_port), interface=args.interface,
                      cache_dir=args.cache_dir or default_cache_dir(), workers=args.workers,
                      rtsp_tls=(args.tls_cert, args.tls_key) if args.tls_cert else None,
                      onvif_https=args.onvif_https)
    try:
        options.rtsp_server_context()
    except OSError as exc:  # ssl.SSLError too: an unreadable certificate is an input error
        raise ValueError(f"--tls-cert/--tls-key: {exc.strerror or exc}") from None
    return SimulatorCore(cameras, options)


async def serve(core: SimulatorCore) -> None:
    """Start, announce readiness on stdout, run until a signal, stop cleanly."""
    await core.start()
    # handlers only now: a signal during a long cold start simply ends the process
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("%d cameras up in %.1f s; control %s", len(core.cameras), core.start_seconds,
             core.control_port)
    print(f"ready {len(core.cameras)} cameras", flush=True)
    await stop.wait()
    log.info("stopping")
    await core.stop()


def main(argv: list[str] | None = None) -> int:
    """Entry point of `camerahub-sim`."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        core = build(args)
    except INPUT_ERRORS as exc:
        print(f"camerahub-sim: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(core))
    except (SimulatorError, MediaError, DiscoveryError, OSError) as exc:
        print(f"camerahub-sim: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("camerahub-sim: interrupted during start-up", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
