"""Decisions for one policy version: casbin enforce, plus a per-user permission cache."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable

import casbin

from .policy import ROOT, VIEW_ACTIONS, Inventory, build_enforcer

Permissions = dict[str, frozenset[str]]  # resource (camera or "all") -> actions


class Authorizer:
    """The casbin enforcer of one inventory version and what it allows each user.

    Casbin evaluates its matcher against every p row, which costs tens of microseconds per
    decision; a camera list needs hundreds. So each user's permissions are expanded from
    casbin once per policy version (implicit permissions, then the resource tree downwards)
    and decisions become set lookups. tests/authz check both paths agree on every request.
    """

    def __init__(self, inventory: Inventory, enforcer: casbin.Enforcer | None = None):
        self.inventory = inventory
        self.version = inventory.version
        self.enforcer = enforcer or build_enforcer(inventory)
        self.cameras = frozenset(cam for cam, _room, _site in inventory.cameras)
        self._children = _children(self.enforcer.get_named_grouping_policy("g2"))
        self._perms: dict[str, Permissions] = {}
        self._lock = threading.Lock()

    def enforce(self, sub: str, obj: str, act: str) -> bool:
        """The raw casbin decision (slow path; the reference for tests)."""
        return bool(self.enforcer.enforce(sub, obj, act))

    def permissions(self, user_id: str) -> Permissions:
        """What user_id may do on each camera and on "all" (cached per version)."""
        perms = self._perms.get(user_id)
        if perms is None:
            perms = self._expand(user_id)
            with self._lock:
                self._perms[user_id] = perms
        return perms

    def allowed(self, user_id: str, obj: str, act: str) -> bool:
        """Fast decision: may user_id take act on obj (a camera id or "all")?"""
        return act in self.permissions(user_id).get(obj, ())

    def visible(self, user_id: str, camera_id: str) -> bool:
        """May the user see that the camera exists (any of live, playback, snapshot)?"""
        acts = self.permissions(user_id).get(camera_id, ())
        return any(a in acts for a in VIEW_ACTIONS)

    def visible_cameras(self, user_id: str) -> set[str]:
        """Every camera the user may see."""
        perms = self.permissions(user_id)
        return {c for c, acts in perms.items()
                if c in self.cameras and any(a in acts for a in VIEW_ACTIONS)}

    def _expand(self, user_id: str) -> Permissions:
        if not user_id or "@" in user_id:
            return {}  # casbin filters treat "" as "any"; "@" names a role, never a user
        acc: dict[str, set[str]] = defaultdict(set)
        for _sub, area, act in self.enforcer.get_implicit_permissions_for_user(user_id):
            for res in self._below(area):
                acc[res].add(act)
        return {res: frozenset(acts) for res, acts in acc.items()}

    def _below(self, area: str) -> set[str]:
        """area itself and everything under it in the resource tree."""
        seen, todo = {area}, [area]
        while todo:
            for child in self._children.get(todo.pop(), ()):
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return seen


def _children(links: Iterable[list[str]]) -> dict[str, list[str]]:
    """Parent -> children map of the g2 resource links."""
    out: dict[str, list[str]] = defaultdict(list)
    for child, parent in links:
        out[parent].append(child)
    return out


__all__ = ["ROOT", "Authorizer", "Permissions"]
