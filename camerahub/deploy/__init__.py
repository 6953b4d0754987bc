"""Declarative deploy: compare the YAML with the inventory, then apply atomically."""

from .inventory import Change, Plan, apply_plan, desired_state, plan_changes

__all__ = ["Change", "Plan", "apply_plan", "desired_state", "plan_changes"]
