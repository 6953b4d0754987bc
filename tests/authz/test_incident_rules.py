"""Incident rules as tables: who oversees, whose area a room is in, who may open an incident,
and who takes part in which incident (the Python rule and its SQL twin must agree)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from camerahub.authz.accounts import Principal
from camerahub.authz.authorizer import Authorizer
from camerahub.authz.errors import NotVisible, PermissionDenied
from camerahub.authz.incidents import (
    check_may_open,
    in_area,
    needs_approval,
    oversees,
    takes_part,
)
from camerahub.authz.store import load_inventory
from camerahub.db import models as m
from camerahub.db.engine import open_database
from camerahub.incidents import visible_incidents
from tests.support.deployment import deploy_example

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
# An API key whose name is also a user's id: it must never pass for that user.
LOOKALIKE_KEY = Principal("apikey", "tokatsu-koseki", None, "alerts:log-analyzer")
# Three incidents: the koseki room (kumin/koseki) opened by an alert; a zeimu room (kumin/zeimu)
# opened by hand by the hoken manager; a kosodate room (kodomo) granted to the koseki manager.
INCIDENTS = {"koseki": ("hq-1f-koseki", "alert-source:log-analyzer", None),
             "zeimu": ("hq-2f-kazei-a", "user:tokatsu-hoken", None),
             "kosodate": ("hq-3f-kosodate", "alert-source:log-analyzer", "tokatsu-koseki")}


def _build(url: str):
    cfg = deploy_example(url)
    _, sessions = open_database(url)
    ids = {}
    with sessions.begin() as s:
        for name, (room, opened_by, grantee) in INCIDENTS.items():
            inc = m.Incident(kind="alert", room_id=room, window_start=T0,
                             window_end=T0 + timedelta(minutes=5), opened_by=opened_by)
            s.add(inc)
            s.flush()
            ids[name] = inc.id
            if grantee:
                s.add(m.Grant(incident_id=inc.id, user_id=grantee, camera_id="hq-3f-kosodate-01",
                              footage_start=T0, footage_end=T0 + timedelta(minutes=5),
                              expires_at=T0 + timedelta(hours=1), created_by=opened_by))
    with sessions() as s:
        authz = Authorizer(load_inventory(s))
    users = {u.id: Principal("user", u.id, u.role, u.scope) for u in cfg.users}
    return sessions, authz, users, ids


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The example deployment on SQLite with three incidents (built once for the tables)."""
    return _build(f"sqlite:///{tmp_path_factory.mktemp('incident-rules') / 'db.sqlite'}")


def _who(users, name: str) -> Principal:
    return LOOKALIKE_KEY if name == "key" else users[name]


@pytest.mark.parametrize(("who", "expected"), [
    ("kiki-sato", True), ("kiki-suzuki", True), ("bucho-kumin", False),
    ("tokatsu-koseki", False), ("ops-takahashi", False), ("audit-watanabe", False),
    ("key", False),
])
def test_oversees(world, who, expected):
    _, authz, users, _ = world
    assert oversees(authz, _who(users, who)) is expected


@pytest.mark.parametrize(("who", "room", "expected"), [
    ("bucho-kumin", "hq-1f-koseki", True),  # department head: every room of the department
    ("bucho-kumin", "hq-2f-kazei-a", True),
    ("tokatsu-koseki", "hq-1f-koseki", True),  # division manager: the division's rooms
    ("tokatsu-koseki", "jimusho-kita-madoguchi", True),
    ("tokatsu-koseki", "hq-2f-kazei-a", False),  # a sibling division
    ("bucho-kodomo", "hq-1f-koseki", False),  # another department
    ("tokatsu-koseki", "koseki", False),  # a division is not a room
    ("tokatsu-koseki", "no-such-room", False),
    ("kiki-sato", "hq-1f-koseki", False),  # unscoped: no area (oversight is a separate rule)
    ("key", "hq-1f-koseki", False),
])
def test_in_area(world, who, room, expected):
    sessions, _, users, _ = world
    with sessions() as s:
        assert in_area(s, _who(users, who), room) is expected


@pytest.mark.parametrize(("who", "room", "refusal"), [
    ("kiki-sato", "hq-4f-kaigo", None),  # crisis-management: anywhere
    ("bucho-kumin", "hq-2f-kazei-a", None),
    ("tokatsu-koseki", "hq-1f-koseki", None),
    ("tokatsu-koseki", "hq-2f-kazei-a", NotVisible),  # outside the area: as if unknown
    ("tokatsu-koseki", "no-such-room", NotVisible),
    ("ops-takahashi", "hq-1f-koseki", PermissionDenied),
    ("audit-watanabe", "hq-1f-koseki", PermissionDenied),
    ("key", "hq-1f-koseki", PermissionDenied),  # incidents are opened by people
])
def test_check_may_open(world, who, room, refusal):
    sessions, authz, users, _ = world
    with sessions() as s:
        if refusal is None:
            check_may_open(s, authz, _who(users, who), room)
        else:
            with pytest.raises(refusal):
                check_may_open(s, authz, _who(users, who), room)


PARTS = [
    ("kiki-sato", {"koseki", "zeimu", "kosodate"}),
    ("bucho-kumin", {"koseki", "zeimu"}),  # both rooms are in the kumin department
    ("tokatsu-koseki", {"koseki", "kosodate"}),  # own room, and a grant from kosodate
    ("tokatsu-zeimu", {"zeimu"}),
    ("tokatsu-hoken", {"zeimu"}),  # opened it by hand
    ("bucho-kodomo", {"kosodate"}),
    ("tokatsu-gakuji", set()),
    ("ops-takahashi", set()),
    ("audit-watanabe", set()),
    ("key", set()),  # its name is a user's id, its grants and openings are not its own
]


@pytest.mark.parametrize(("who", "expected"), PARTS)
def test_takes_part_and_the_listing_agree(world, who, expected):
    sessions, authz, users, ids = world
    principal = _who(users, who)
    with sessions() as s:
        listed = {inc.id for inc in visible_incidents(s, authz, principal)}
        part = {i for i in ids.values() if takes_part(s, authz, principal, s.get(m.Incident, i))}
    assert listed == part == {ids[name] for name in expected}


def test_the_listing_filter_runs_on_every_backend(db_url):
    sessions, authz, users, ids = _build(db_url)
    with sessions() as s:
        for who, expected in PARTS:
            listed = {inc.id for inc in visible_incidents(s, authz, _who(users, who))}
            assert listed == {ids[name] for name in expected}, who


@pytest.mark.parametrize(("who", "room", "grant_to", "refusal"), [
    ("kiki-sato", "hq-1f-koseki", ["tokatsu-zeimu"], None),  # crisis-management: anyone
    ("tokatsu-koseki", "hq-1f-koseki", ["bucho-kumin"], None),  # the room's own head
    ("bucho-kumin", "hq-2f-kazei-a", ["tokatsu-zeimu"], None),  # the room's own manager
    ("tokatsu-koseki", "hq-1f-koseki", ["tokatsu-zeimu"], PermissionDenied),  # another division
    ("bucho-kumin", "hq-2f-kazei-a", ["tokatsu-koseki"], PermissionDenied),
    ("tokatsu-koseki", "hq-1f-koseki", ["bucho-kodomo"], PermissionDenied),  # another department
    ("tokatsu-koseki", "hq-1f-koseki", ["kiki-sato"], PermissionDenied),  # not a manager here
    ("tokatsu-koseki", "hq-1f-koseki", ["ops-takahashi"], PermissionDenied),
    ("tokatsu-koseki", "hq-1f-koseki", ["no-such-user"], PermissionDenied),
    ("tokatsu-koseki", "hq-1f-koseki", ["bucho-kumin", "tokatsu-zeimu"], PermissionDenied),
])
def test_a_managers_incident_grants_only_the_rooms_own_people(world, who, room, grant_to,
                                                               refusal):
    sessions, authz, users, _ = world
    with sessions() as s:
        if refusal is None:
            check_may_open(s, authz, users[who], room, grant_to)
        else:
            with pytest.raises(refusal):
                check_may_open(s, authz, users[who], room, grant_to)


@pytest.mark.parametrize(("who", "mode", "expected"), [
    ("tokatsu-koseki", "standing", False),
    ("bucho-kumin", "standing", False),
    ("kiki-sato", "standing", False),
    ("tokatsu-koseki", "incident", True),  # no standing access: a second person decides
    ("bucho-kumin", "incident", True),
    ("kiki-sato", "incident", False),  # crisis-management is that second person
])
def test_who_needs_approval(world, who, mode, expected):
    _, authz, users, _ = world
    mode_authz = Authorizer(replace(authz.inventory, manager_playback=mode))
    assert needs_approval(mode_authz, users[who]) is expected
