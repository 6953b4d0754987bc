"""Simulated ONVIF/RTSP cameras; stands in for third-party firmware, never imports camerahub."""

from simulator.app import Simulator
from simulator.core import SimulatorError
from simulator.launcher import SimulatorProcess, launch

__all__ = ["Simulator", "SimulatorError", "SimulatorProcess", "launch"]
