"""Opening an input (RTSP URL, HTTP URL or local file) with PyAV, errors sorted by kind."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import av

from camerahub.redact import redact
from camerahub.video import tls
from camerahub.video.errors import StreamEnded, StreamOpenError, StreamStalled

log = logging.getLogger(__name__)

# Interrupt callback (PyAV `timeout`) and socket timeouts both end a blocked read.
_STALL_ERRORS = (av.error.ExitError, av.error.TimeoutError)
# How FFmpeg reports a session that went away, as opposed to one that went quiet.
_ENDED_ERRORS = (
    av.error.EOFError,
    av.error.ConnectionResetError,
    av.error.BrokenPipeError,
    av.error.InvalidDataError,
    av.error.OSError,
)
_OPEN_KINDS: tuple[tuple[type[BaseException], str], ...] = (
    (av.error.HTTPUnauthorizedError, "unauthorized"),
    (av.error.PermissionError, "unauthorized"),
    (av.error.HTTPForbiddenError, "forbidden"),
    (av.error.HTTPNotFoundError, "not_found"),
    (av.error.FileNotFoundError, "not_found"),
    (av.error.ExitError, "timeout"),
    (av.error.TimeoutError, "timeout"),
    (av.error.ConnectionRefusedError, "unreachable"),
    (av.error.InvalidDataError, "invalid"),
)


@dataclass(frozen=True)
class InputOptions:
    """How patient to be with an input; seconds."""

    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0
    rtsp_transport: str = "tcp"
    # PEM file of the CAs an rtsps:// camera's certificate must chain to (the system's CAs
    # when None); see camerahub.video.tls
    ca_file: str | None = None


def ffmpeg_options(url: str, opts: InputOptions) -> dict[str, str]:
    """Return demuxer/protocol options for this URL."""
    micros = str(int(opts.read_timeout_s * 1_000_000))
    if url.startswith(("rtsp://", "rtsps://")):
        # `timeout` is the rtsp demuxer's socket timeout (µs) on FFmpeg >= 5; `stimeout`
        # is its old name, harmlessly ignored by newer builds (PyAV warns, not fails).
        return {"rtsp_transport": opts.rtsp_transport, "timeout": micros, "stimeout": micros}
    if url.startswith(("http://", "https://", "tcp://")):
        return {"rw_timeout": micros}
    return {}


def pyav_timeout(url: str, opts: InputOptions) -> tuple[float, float | None]:
    """PyAV's own (open, read) timeouts: no read timeout where FFmpeg keeps one natively.

    PyAV enforces its timeouts in FFmpeg's interrupt callback, which takes the GIL on
    every call, and FFmpeg calls it on every socket read: several times per RTP packet.
    With a hundred cameras that is ~10^5 GIL hand-offs a second and doubled the CPU of
    recording. Network inputs already carry FFmpeg's socket timeout (ffmpeg_options),
    which fails a stalled read the same way without touching Python.
    """
    native = bool(ffmpeg_options(url, opts))
    return opts.open_timeout_s, None if native else opts.read_timeout_s


def open_input(url: str, opts: InputOptions,
               extra: dict[str, str] | None = None) -> av.container.InputContainer:
    """Open an input for demuxing (`extra`: more FFmpeg options); raise
    StreamOpenError(kind=...) on failure.

    FFmpeg never speaks TLS to a camera (it would not check the certificate): an rtsps://
    camera is read through a tls.Tunnel, verified before FFmpeg is given its loopback port,
    over interleaved TCP (RTP over UDP would bypass the tunnel)."""
    target, tunnel = url, None
    if url.startswith("rtsps://"):
        tunnel = tls.Tunnel(url, opts.open_timeout_s, opts.ca_file)
        target, opts = tunnel.url, replace(opts, rtsp_transport="tcp")
    try:
        return av.open(target, options={**ffmpeg_options(target, opts), **(extra or {})},
                       timeout=pyav_timeout(target, opts))
    except av.error.FFmpegError as exc:
        if tunnel is not None:
            tunnel.close()
        # FFmpeg's message repeats the URL it was given, user:password included.
        raise StreamOpenError(open_error_kind(exc), redact(f"{url}: {exc}")) from exc
    except BaseException:
        if tunnel is not None:
            tunnel.close()
        raise


def open_error_kind(exc: BaseException) -> str:
    """Sort an open failure into a kind the service can act on."""
    for error_type, kind in _OPEN_KINDS:
        if isinstance(exc, error_type):
            return kind
    return "unreachable"


def translate_read_error(exc: BaseException, url: str) -> Exception:
    """Return our exception for a failure while reading packets."""
    if isinstance(exc, _STALL_ERRORS):
        return StreamStalled(redact(f"{url}: no packet within read timeout ({exc})"))
    if isinstance(exc, _ENDED_ERRORS):
        return StreamEnded(redact(f"{url}: {exc}"))
    return StreamEnded(redact(f"{url}: unexpected {type(exc).__name__}: {exc}"))
