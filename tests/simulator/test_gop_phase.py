"""Simulated cameras send their keyframes at different moments, as a real fleet does."""

from __future__ import annotations

from simulator.core import gop_phase


def test_each_camera_has_its_own_stable_place_in_the_gop():
    ids = [f"hq-{i:03d}" for i in range(1, 101)]
    phases = [gop_phase(cam) for cam in ids]
    assert phases == [gop_phase(cam) for cam in ids], "stable across runs"
    assert all(0 <= p < 1 for p in phases)
    # 100 cameras over a GOP cut in 16 slices: keyframes in most of them, none crowded
    slices = [sum(1 for p in phases if int(p * 16) == s) for s in range(16)]
    assert sum(1 for n in slices if n) >= 12 and max(slices) <= 15
