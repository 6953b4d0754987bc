"""Declarative deploy: compare the YAML with the inventory, then apply atomically."""

from __future__ import annotations

from camerahub.lazy import lazy_exports

_EXPORTS = dict.fromkeys(("Change", "Plan", "apply_plan", "desired_state", "plan_changes"),
                         ".inventory")
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
