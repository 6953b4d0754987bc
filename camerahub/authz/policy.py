"""Casbin policy: the model and base files, and per-area lines generated from the inventory."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import casbin

from camerahub.config.users import SCOPED_ROLES

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"
ROOT = "all"
FOOTAGE_ACTIONS = ("live", "playback", "export", "snapshot")
VIEW_ACTIONS = ("live", "playback", "snapshot")  # any of these makes a camera visible
VIEW = "view"  # see a camera's metadata: allowed when any view action is
SYSTEM_ACTIONS = ("hold", "incident", "deploy", "health", "audit")
ACTIONS = FOOTAGE_ACTIONS + SYSTEM_ACTIONS
LIVE_ROLE = "live-viewer"  # a policy-only role: live view for managers, held in their area


@dataclass(frozen=True)
class AreaRow:
    """A department, division or room as deploy apply stored it."""

    id: str
    kind: str
    parent_id: str | None = None
    site_id: str | None = None


@dataclass(frozen=True)
class UserRow:
    """The access-relevant part of an active user."""

    id: str
    role: str
    scope: str | None = None
    live: bool = False


@dataclass(frozen=True)
class Inventory:
    """Everything policy generation needs, read from the database in one go."""

    version: int
    areas: tuple[AreaRow, ...] = ()
    cameras: tuple[tuple[str, str, str], ...] = ()  # (camera id, room id, site id)
    users: tuple[UserRow, ...] = ()
    manager_playback: str = "standing"
    manager_live: bool = False
    sites: tuple[str, ...] = field(default=())


def role_in_area(role: str, area: str) -> str:
    """The subject name of a role held in an area, e.g. division-manager@koseki."""
    return f"{role}@{area}"


def resource_links(inv: Inventory) -> Iterator[tuple[str, str]]:
    """g2 lines: camera -> room -> division -> department -> all, room -> site -> all."""
    for area in inv.areas:
        yield area.id, area.parent_id or ROOT
        if area.site_id:
            yield area.id, area.site_id
    for site in inv.sites:
        yield site, ROOT
    for cam_id, room_id, _site in inv.cameras:
        yield cam_id, room_id


def user_roles(inv: Inventory) -> Iterator[tuple[str, str]]:
    """g lines: each active user -> role@area (plus live-viewer@area where configured)."""
    for user in inv.users:
        area = user.scope or ROOT
        yield user.id, role_in_area(user.role, area)
        if user.role in SCOPED_ROLES and (user.live or inv.manager_live):
            yield user.id, role_in_area(LIVE_ROLE, area)


def _base_actions(base: Iterable[list[str]], inv: Inventory) -> dict[str, list[str]]:
    """role -> actions from the base rows, minus standing manager footage in incident mode."""
    actions: dict[str, list[str]] = {}
    for role, act in base:
        if inv.manager_playback == "incident" and role in SCOPED_ROLES and act in FOOTAGE_ACTIONS:
            continue  # managers then see footage only through an incident's grant
        actions.setdefault(role, []).append(act)
    return actions


def permission_rows(base: Iterable[list[str]], roles: Iterable[str],
                    inv: Inventory) -> Iterator[list[str]]:
    """p lines: role@area, area, action for every role@area some user holds."""
    actions = _base_actions(base, inv)
    for subject in sorted(set(roles)):
        role, _, area = subject.partition("@")
        for act in actions.get(role, ()):
            yield [subject, area, act]


def new_enforcer(policy_dir: Path = POLICY_DIR) -> casbin.Enforcer:
    """An enforcer loaded with the model and the base role definitions only."""
    return casbin.Enforcer(str(policy_dir / "model.conf"), str(policy_dir / "base.csv"))


def load_policy(enforcer: casbin.Enforcer, inv: Inventory) -> casbin.Enforcer:
    """Add the generated g, g2 and p lines for inv to an enforcer holding the base rows."""
    links = [list(x) for x in dict.fromkeys(resource_links(inv))]
    grants = [list(x) for x in dict.fromkeys(user_roles(inv))]
    base = enforcer.get_named_policy("p2")
    rows = list(permission_rows(base, (r for _, r in grants), inv))
    if links:
        enforcer.add_named_grouping_policies("g2", links)
    if grants:
        enforcer.add_named_grouping_policies("g", grants)
    if rows:
        enforcer.add_named_policies("p", rows)
    return enforcer


def build_enforcer(inv: Inventory, policy_dir: Path = POLICY_DIR) -> casbin.Enforcer:
    """A ready enforcer for one inventory version."""
    return load_policy(new_enforcer(policy_dir), inv)
