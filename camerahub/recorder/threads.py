"""Native thread names, so `top -H`, /proc and benchmarks can tell recording from uploading."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading

log = logging.getLogger(__name__)
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_setname = getattr(_libc, "pthread_setname_np", None)


def name_native(thread: threading.Thread, name: str | None = None) -> None:
    """Give a started thread its Python name at OS level (15 bytes max; Linux keeps it)."""
    if _setname is None or thread.ident is None:
        return
    # Python 3.11 does not do this itself; the kernel truncates nothing, it refuses >15.
    raw = (name or thread.name).encode()[:15]
    if _setname(ctypes.c_ulong(thread.ident), ctypes.c_char_p(raw)) != 0:
        log.debug("could not name thread %s", thread.name)
