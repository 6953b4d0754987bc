"""Loopback ports for the small servers tests start."""

from __future__ import annotations

from simulator.testing import free_port

__all__ = ["free_port"]  # a TCP port free on a loopback address right now
