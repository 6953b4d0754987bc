"""Waiting for something to happen: poll with a generous deadline, never sleep a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 120.0, what: str = "",
               interval: float = 0.05) -> T:
    """Poll predicate until it returns something truthy and return that.

    The timeout is a safety net for a broken test, not a timing assertion: keep it generous.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            name = what or predicate.__doc__ or repr(predicate)
            raise AssertionError(f"{name} not reached within {timeout} s")
        time.sleep(interval)


def wait_for(predicate: Callable[[], T], timeout: float = 120.0, interval: float = 0.25) -> T:
    """wait_until for predicates that query a database or a bucket: polls a little less often."""
    return wait_until(predicate, timeout, interval=interval)
