"""The casbin model and base policy as data: many enforce rows against the real files."""

from __future__ import annotations

import pytest

from camerahub.authz.authorizer import Authorizer
from camerahub.authz.policy import (
    ACTIONS,
    AreaRow,
    Inventory,
    UserRow,
    build_enforcer,
    new_enforcer,
)
from camerahub.authz.store import load_inventory
from camerahub.config.users import SCOPED_ROLES, Role
from camerahub.db.engine import open_database
from tests.support.deployment import cameras_in_area, deploy_example

KOSEKI = "hq-1f-koseki-01"        # 区民部 / 戸籍住民分野, headquarters
KOSEKI_FACILITY = "jimusho-minami-madoguchi-01"  # same division, a branch office
ZEIMU = "hq-2f-kazei-a-01"        # 区民部 / 税務分野
KOSODATE = "hq-3f-kosodate-01"    # 子ども教育部
SUKOYAKA = "sukoyaka-chubu-soudan-01"  # 地域支えあい推進部, a welfare centre

# (subject, object, action, expected): the rule of SUMMARY.md, row by row.
ROWS = [
    ("kiki-sato", KOSEKI, "live", True),
    ("kiki-sato", KOSEKI, "playback", True),
    ("kiki-sato", SUKOYAKA, "export", True),
    ("kiki-sato", KOSODATE, "snapshot", True),
    ("kiki-sato", KOSODATE, "hold", True),
    ("kiki-sato", "all", "incident", True),
    ("kiki-sato", "all", "deploy", False),
    ("kiki-sato", "all", "audit", False),
    ("kiki-sato", "all", "health", False),
    ("bucho-kumin", KOSEKI, "playback", True),
    ("bucho-kumin", ZEIMU, "snapshot", False),  # a snapshot is live view: not for managers
    ("bucho-kumin", KOSEKI_FACILITY, "playback", True),
    ("bucho-kumin", KOSODATE, "playback", False),
    ("bucho-kumin", KOSEKI, "live", False),
    ("bucho-kumin", KOSEKI, "export", False),
    ("bucho-kumin", KOSEKI, "hold", False),
    ("bucho-kumin", "all", "playback", False),
    ("tokatsu-koseki", KOSEKI, "playback", True),
    ("tokatsu-koseki", KOSEKI, "snapshot", False),
    ("tokatsu-koseki", KOSEKI_FACILITY, "playback", True),
    ("tokatsu-koseki", "hq-1f-koseki", "playback", True),
    ("tokatsu-koseki", KOSEKI, "live", False),
    ("tokatsu-koseki", KOSEKI, "export", False),
    ("tokatsu-koseki", ZEIMU, "playback", False),
    ("tokatsu-koseki", SUKOYAKA, "playback", False),
    ("tokatsu-koseki", "kumin", "playback", False),
    ("tokatsu-koseki", "hq", "playback", False),
    ("tokatsu-koseki", "HQ-1F-KOSEKI-01", "playback", False),
    ("tokatsu-koseki", "hq-1f-koseki-01 ", "playback", False),
    ("tokatsu-zeimu", ZEIMU, "playback", True),
    ("tokatsu-zeimu", KOSEKI, "playback", False),
    ("tokatsu-sukoyaka-chubu", SUKOYAKA, "playback", True),
    ("tokatsu-sukoyaka-chubu", KOSEKI, "snapshot", False),
    ("ops-takahashi", "all", "deploy", True),
    ("ops-takahashi", "all", "health", True),
    ("ops-takahashi", "all", "audit", False),
    ("ops-takahashi", KOSEKI, "playback", False),
    ("ops-takahashi", KOSEKI, "live", False),
    ("audit-watanabe", "all", "audit", True),
    ("audit-watanabe", KOSEKI, "playback", False),
    ("audit-watanabe", "all", "deploy", False),
    ("nobody", KOSEKI, "playback", False),
    ("", KOSEKI, "playback", False),
    ("division-manager", KOSEKI, "playback", False),
    ("kiki-sato", "no-such-camera", "live", False),
]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """The example deployment applied into a fresh SQLite database, and its authorizer."""
    url = f"sqlite:///{tmp_path_factory.mktemp('policy') / 'db.sqlite'}"
    cfg = deploy_example(url)
    _, sessions = open_database(url)
    with sessions() as session:
        return cfg, Authorizer(load_inventory(session, cfg.access))


@pytest.mark.parametrize(("sub", "obj", "act", "expected"), ROWS)
def test_enforce(deployed, sub, obj, act, expected):
    _, authz = deployed
    assert authz.enforce(sub, obj, act) is expected
    assert authz.allowed(sub, obj, act) is expected


def test_cached_decisions_equal_casbin_for_every_user_camera_action(deployed):
    cfg, authz = deployed
    objects = sorted(authz.cameras) + ["all"]
    for user in cfg.users:
        for obj in objects:
            for act in ACTIONS:
                assert authz.allowed(user.id, obj, act) is authz.enforce(user.id, obj, act), (
                    user.id, obj, act)


@pytest.mark.parametrize("user_id", ["bucho-kumin", "tokatsu-koseki", "tokatsu-katsudo",
                                     "bucho-chiiki", "kiki-suzuki", "ops-takahashi"])
def test_visible_cameras_match_the_org_tree(deployed, user_id):
    cfg, authz = deployed
    user = next(u for u in cfg.users if u.id == user_id)
    expected = (cameras_in_area(cfg, user.scope) if user.role in SCOPED_ROLES
                else cameras_in_area(cfg, None) if user.role == Role.CRISIS_MANAGEMENT else set())
    assert authz.visible_cameras(user_id) == expected


def test_base_policy_defines_every_role_and_action():
    base = new_enforcer().get_named_policy("p2")
    roles = {role for role, _ in base}
    assert {role.value for role in Role} <= roles
    assert {act for _, act in base} == set(ACTIONS)
    assert new_enforcer().get_policy() == []  # nothing is allowed before generation


def _tiny(**kw) -> Inventory:
    areas = (AreaRow("dept", "department"), AreaRow("div", "division", "dept"),
             AreaRow("room", "room", "div", "site"), AreaRow("other", "division", "dept"),
             AreaRow("room2", "room", "other", "site"))
    users = kw.pop("users", (UserRow("mgr", "division-manager", "div"),
                             UserRow("head", "department-head", "dept"),
                             UserRow("seer", "division-manager", "div", live=True),
                             UserRow("cm", "crisis-management")))
    return Inventory(version=1, areas=areas, cameras=(("cam", "room", "site"),
                                                      ("cam2", "room2", "site")),
                     users=users, sites=("site",), **kw)


@pytest.mark.parametrize(("inv", "sub", "obj", "act", "expected"), [
    (_tiny(), "mgr", "cam", "playback", True),
    (_tiny(), "mgr", "cam2", "playback", False),
    (_tiny(), "mgr", "cam", "live", False),
    (_tiny(), "seer", "cam", "live", True),
    (_tiny(), "seer", "cam2", "live", False),
    (_tiny(), "mgr", "cam", "snapshot", False),  # the current picture is live view
    (_tiny(), "seer", "cam", "snapshot", True),  # ... which live: true grants
    (_tiny(), "seer", "cam2", "snapshot", False),
    (_tiny(manager_live=True), "head", "cam2", "snapshot", True),
    (_tiny(), "head", "cam2", "playback", True),
    (_tiny(), "head", "cam", "live", False),
    (_tiny(manager_live=True), "mgr", "cam", "live", True),
    (_tiny(manager_live=True), "head", "cam2", "live", True),
    (_tiny(manager_live=True), "mgr", "cam2", "live", False),
    (_tiny(manager_playback="incident"), "mgr", "cam", "playback", False),
    (_tiny(manager_playback="incident"), "head", "cam", "snapshot", False),
    (_tiny(manager_playback="incident"), "seer", "cam", "live", True),
    (_tiny(manager_playback="incident"), "cm", "cam", "playback", True),
    (_tiny(users=()), "cm", "cam", "playback", False),
])
def test_generated_policy_variants(inv, sub, obj, act, expected):
    enforcer = build_enforcer(inv)
    assert enforcer.enforce(sub, obj, act) is expected
    assert Authorizer(inv, enforcer).allowed(sub, obj, act) is expected


def test_policy_loads_from_each_backend_and_follows_deployments(db_url):
    from camerahub.authz.store import PolicyStore
    from tests.support.deployment import deploy_text, variant

    cfg = deploy_example(db_url)
    _, sessions = open_database(db_url)
    store = PolicyStore(sessions, cfg.access, check_interval=0)
    first = store.current()
    assert first.visible_cameras("tokatsu-koseki") == cameras_in_area(cfg, "koseki")
    assert store.current() is first  # same deployment: nothing rebuilt
    moved = variant("  room: hq-1f-koseki\n  address: 127.0.1.1\n",
                    "  room: hq-2f-kazei-a\n  address: 127.0.1.1\n")
    deploy_text(db_url, moved)
    second = store.current()
    assert second.version > first.version and store.reloads == 2
    assert "hq-1f-koseki-01" not in second.visible_cameras("tokatsu-koseki")
    assert "hq-1f-koseki-01" in second.visible_cameras("tokatsu-zeimu")
