"""The viewing register: a month of real requests, sweeps and holds, read back from the trail.

The activity goes through the real app (sign-in, authorization, the audit middleware), the
real incident routes (holds placed and released) and the real retention sweeper over the
FileStore; only the audit clock is set, so that one test run can fill a whole month. The
oracles are independent of the register code: the footage entries of the trail in the Tokyo
month, and the camera-days whose segments the sweep removed from the index.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from camerahub.audit import log as audit_log
from camerahub.audit import register
from camerahub.cli import main
from camerahub.db import models as m
from camerahub.db import segments as index
from camerahub.retention import RetentionSweeper
from camerahub.storage import segment_key
from tests.support.api import TEST_PREFIX, build_api
from tests.support.paths import NAKANO

TOKYO = ZoneInfo("Asia/Tokyo")
MONTH = "2026-11"
KOSEKI, ZEIMU, CHUBU = "hq-1f-koseki-01", "hq-2f-kazei-a-01", "sukoyaka-chubu-soudan-01"
FOOTAGE = ("live", "playback", "export", "snapshot")


class Clock:
    """The audit trail's clock, moved through the month by the test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 10, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def at(self, local: datetime) -> None:
        self.now = local.astimezone(UTC)


def _range(local: datetime, minutes: int = 10) -> dict:
    return {"start": local.isoformat(), "end": (local + timedelta(minutes=minutes)).isoformat()}


def _get(api, user, camera, action, params, status):
    resp = api.client.get(f"{TEST_PREFIX}/cameras/{camera}/{action}", params=params,
                          headers=api.auth(user))
    assert resp.status_code == status, resp.text


def _put(store, sessions, scratch, cam, site, start):
    body = f"{cam}{start}".encode()
    sha = hashlib.sha256(body).hexdigest()
    key = segment_key(site, cam, start, 10_000, "ts")
    tmp = scratch / "segment.ts"
    tmp.write_bytes(body)
    store.put(key, tmp, sha)
    with sessions.begin() as s:
        index.add_segment(s, camera_id=cam, site_id=site, start=start,
                          end=start + timedelta(seconds=10), nbytes=len(body), sha256=sha,
                          key=key)


def _old_footage(store, sessions, scratch) -> dict[str, tuple[str, str]]:
    """Segments of September/October around local midnights (UTC days differ from Tokyo's):
    key -> (camera, Tokyo day)."""
    made = {}
    for cam, site in ((KOSEKI, "hq"), (CHUBU, "sukoyaka-chubu")):
        for day in (28, 29, 30):
            for clock in ((0, 0, 5), (8, 59, 50), (9, 0, 0), (23, 59, 40)):
                local = datetime(2026, 9, day, *clock, tzinfo=TOKYO)
                _put(store, sessions, scratch, cam, site, local.astimezone(UTC))
                made[segment_key(site, cam, local.astimezone(UTC), 10_000, "ts")] = (
                    cam, local.date().isoformat())
    # footage an incident holds: past retention, yet kept
    for minute in range(3):
        local = datetime(2026, 10, 1, 10, minute, tzinfo=TOKYO)
        _put(store, sessions, scratch, KOSEKI, "hq", local.astimezone(UTC))
    return made


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """A month of activity in one database: (api, store, expected counts, deleted days)."""
    data = tmp_path_factory.mktemp("register")
    url = f"sqlite:///{data / 'camerahub.db'}"
    api = build_api(url, data_dir=data)
    clock = Clock()
    store = api.app.state.camerahub.services.store  # the app's own: holds reach its objects
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(audit_log, "utcnow", clock)
        old = _old_footage(store, api.sessions, data)
        expected = 0
        # the edges of the Tokyo month: outside, inside, inside, outside
        for local, inside in ((datetime(2026, 10, 31, 23, 59, 59, tzinfo=TOKYO), False),
                              (datetime(2026, 11, 1, 0, 0, 0, tzinfo=TOKYO), True),
                              (datetime(2026, 11, 30, 23, 59, 59, tzinfo=TOKYO), True),
                              (datetime(2026, 12, 1, 0, 0, 0, tzinfo=TOKYO), False)):
            clock.at(local)
            _get(api, "kiki-sato", CHUBU, "snapshot", {}, 200)
            expected += inside
        for day in range(1, 31):
            base = datetime(2026, 11, day, 9, 30, tzinfo=TOKYO)
            clock.at(base)
            _get(api, "tokatsu-koseki", KOSEKI, "playback",
                 {**_range(base - timedelta(days=1)), "reason": "窓口の苦情確認"}, 200)
            clock.at(base + timedelta(hours=1))
            _get(api, "kiki-sato", CHUBU, "live", {}, 200)
            expected += 2
            if day % 3 == 0:  # another division's camera: refused, and on the record
                clock.at(base + timedelta(hours=2))
                _get(api, "tokatsu-koseki", ZEIMU, "playback",
                     {**_range(base), "reason": "確認のため"}, 404)
                expected += 1
            if day % 7 == 0:  # no reason stated: refused before any footage
                clock.at(base + timedelta(hours=3))
                _get(api, "bucho-kumin", KOSEKI, "playback", _range(base), 400)
                expected += 1
            if day % 10 == 0:
                clock.at(base + timedelta(hours=4))
                _get(api, "kiki-suzuki", KOSEKI, "export", _range(base), 200)
                expected += 1
        # an incident holds October footage; it is released later in the month
        clock.at(datetime(2026, 11, 4, 14, 0, tzinfo=TOKYO))
        window = datetime(2026, 10, 1, 10, 0, tzinfo=TOKYO)
        resp = api.client.post("/api/v1/incidents", headers=api.auth("kiki-sato"), json={
            "room_id": "hq-1f-koseki", "reason": "端末の不審な照会の確認",
            "window": {"start": window.isoformat(),
                       "end": (window + timedelta(minutes=5)).isoformat()}})
        assert resp.status_code == 201, resp.text
        incident = resp.json()["id"]
        # retention on 5 November: 30 days keep nothing of September; small batches split
        # each camera-day over several transactions (and entries)
        clock.at(datetime(2026, 11, 5, 3, 0, tzinfo=TOKYO))
        sweeper = RetentionSweeper(api.sessions, store, now=clock, batch=3, tz=TOKYO)
        report = sweeper.sweep()
        assert report.deleted == len(old) and not report.failed
        assert [e["incident"] for e in report.exempt] == [incident]
        clock.at(datetime(2026, 11, 25, 16, 0, tzinfo=TOKYO))
        resp = api.client.post(f"/api/v1/incidents/{incident}/release",
                               headers=api.auth("kiki-sato"))
        assert resp.status_code == 200, resp.text
    with api.sessions() as s:
        remaining = set(s.scalars(select(m.Segment.key)))
    deleted_days = {old[k] for k in old if k not in remaining}
    return api, data, expected, deleted_days


def _month_footage_seqs(api) -> list[int]:
    """Oracle: footage entries of the trail whose time falls in November, Tokyo time."""
    with api.sessions() as s:
        rows = s.execute(select(m.AuditEntry.seq, m.AuditEntry.at)
                         .where(m.AuditEntry.action.in_(FOOTAGE))).all()
    return sorted(seq for seq, at in rows if at.astimezone(TOKYO).strftime("%Y-%m") == MONTH)


def test_one_row_per_footage_access_and_per_deleted_camera_day(month):
    api, _, expected, deleted_days = month
    with api.sessions() as s:
        reg = register.build(s, MONTH, TOKYO)
    assert reg.chain_ok and reg.chain_problem is None
    seqs = [a.seq for section in reg.sites for a in section.accesses]
    assert sorted(seqs) == _month_footage_seqs(api)
    assert len(seqs) == len(set(seqs)) == expected
    assert {s.site_id for s in reg.sites} == {"hq", "sukoyaka-chubu"}
    rows = {a.seq: a for section in reg.sites for a in section.accesses}
    first = rows[min(rows)]
    assert first.at == "2026-11-01 00:00:00" and first.action == "snapshot"
    assert first.room and first.role == "crisis-management" and first.outcome == "allow (200)"
    hidden = [a for a in rows.values() if a.outcome == "deny (404)"]
    assert len(hidden) == 10 and all(a.camera.endswith(f"({ZEIMU})") for a in hidden)
    no_reason = [a for a in rows.values() if a.outcome == "deny (400)"]
    assert len(no_reason) == 4 and all(a.person == "user:bucho-kumin" for a in no_reason)
    assert any(a.purpose == "窓口の苦情確認" and a.person_name for a in rows.values())

    assert {(d.camera, d.day) for d in reg.disposals} == deleted_days
    assert len(reg.disposals) == len(deleted_days) == 2 * 3  # Tokyo days (UTC: 4 each)
    assert all(d.segments > 0 and d.bytes > 0 and "retention 30 days" in d.why
               for d in reg.disposals)
    assert sum(d.segments for d in reg.disposals) == 24
    assert [h.op for h in reg.holds] == ["place", "release"]


def test_site_filter_keeps_only_that_sites_cameras(month):
    api, *_ = month
    with api.sessions() as s:
        reg = register.build(s, MONTH, TOKYO, site="sukoyaka-chubu")
        with pytest.raises(register.RegisterError):
            register.build(s, MONTH, TOKYO, site="no-such-site")
        with pytest.raises(register.RegisterError):
            register.build(s, "2026-13", TOKYO)
    assert [s.site_id for s in reg.sites] == ["sukoyaka-chubu"]
    assert {d.camera for d in reg.disposals} == {CHUBU}
    assert [h.op for h in reg.holds] == ["release"]  # the hq hold is not this site's


def _cli(month, monkeypatch, *args: str) -> int:
    api, data, *_ = month
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", api.url)
    monkeypatch.setenv("CAMERAHUB_DATA_DIR", str(data))
    return main(["report", "viewing", "--config", str(NAKANO), *args])


def test_cli_csv_has_the_same_rows(month, monkeypatch, capsysbinary):
    assert _cli(month, monkeypatch, "--month", MONTH) == 0
    text = capsysbinary.readouterr().out.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["# audit chain", rows[1][1]] and rows[1][1].startswith("intact")
    kinds = [r[0] for r in rows if r]
    assert kinds.count("access") == month[2]
    assert kinds.count("disposal") == len(month[3])
    assert _cli(month, monkeypatch, "--month", "2026-1") == 2
    assert _cli(month, monkeypatch, "--month", MONTH, "--site", "nowhere") == 2


def _output_dir(tmp_path: Path) -> Path:
    target = os.environ.get("CAMERAHUB_UI_SCREENSHOTS")
    path = Path(target) if target else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils not installed")
def test_pdf_embeds_japanese_fonts_and_renders(month, monkeypatch, tmp_path):
    out = _output_dir(tmp_path)
    pdf = tmp_path / "register.pdf"
    assert _cli(month, monkeypatch, "--month", MONTH, "--format", "pdf", "--out", str(pdf)) == 0
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True, timeout=60).stdout.splitlines()[2:]
    assert fonts and all(" yes " in line for line in fonts), fonts  # every font embedded
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True, timeout=60).stdout
    for needle in ("画像閲覧等記録簿", "中野区役所 本庁舎", "中部すこやか福祉センター", "廃棄記録",
                   "改ざんなし", "確認者", "窓口の苦情確認"):
        assert needle in text, needle
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf),
                    str(out / "viewing-register")], check=True, timeout=60)
    page = next(out.glob("viewing-register*.png"))
    assert page.stat().st_size > 10_000


def test_a_broken_chain_is_stated_on_the_register(month, monkeypatch, tmp_path):
    api, *_ = month
    with api.sessions.begin() as s:
        seq = s.scalar(select(m.AuditEntry.seq).where(m.AuditEntry.action == "playback")
                       .limit(1))
        s.execute(update(m.AuditEntry).where(m.AuditEntry.seq == seq)
                  .values(reason="書き換えられた理由"))
    try:
        with api.sessions() as s:
            reg = register.build(s, MONTH, TOKYO)
        assert not reg.chain_ok and reg.chain_problem and "edited" in reg.chain_problem
        pdf = tmp_path / "broken.pdf"
        code = _cli(month, monkeypatch, "--month", MONTH, "--format", "pdf", "--out", str(pdf))
        assert code == 1 and pdf.stat().st_size > 0
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              check=True, timeout=60).stdout if shutil.which("pdftotext") \
            else "警告"
        assert "警告" in text
    finally:
        with api.sessions.begin() as s:  # leave the shared month intact for other tests
            s.execute(update(m.AuditEntry).where(m.AuditEntry.seq == seq)
                      .values(reason="窓口の苦情確認"))


def test_the_auditors_screen_api(month):
    api, _, expected, deleted_days = month
    url = "/api/v1/register/viewing"
    resp = api.client.get(url, params={"month": MONTH}, headers=api.auth("audit-watanabe"))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["chain"]["ok"] and body["timezone"] == "Asia/Tokyo"
    assert sum(len(s["accesses"]) for s in body["sites"]) == expected
    whats = {(a["action"], a["what"]) for s in body["sites"] for a in s["accesses"]}
    assert whats == {("playback", ""), ("live", ""), ("snapshot", ""), ("export", "bundle")}
    assert len(body["disposals"]) == len(deleted_days)
    pdf = api.client.get(url, params={"month": MONTH, "format": "pdf", "site": "hq"},
                         headers=api.auth("audit-watanabe"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "viewing-register-2026-11-hq.pdf" in pdf.headers["content-disposition"]
    for params, status in (({"month": "2026-13"}, 400), ({"month": "11-2026"}, 422),
                           ({"month": MONTH, "site": "nowhere"}, 400),
                           ({"month": MONTH, "format": "xls"}, 422)):
        resp = api.client.get(url, params=params, headers=api.auth("audit-watanabe"))
        assert resp.status_code == status, (params, resp.text)
    for user in ("tokatsu-koseki", "ops-takahashi", "kiki-sato"):  # not auditors
        assert api.client.get(url, params={"month": MONTH},
                              headers=api.auth(user)).status_code == 403
    assert api.client.get(url, params={"month": MONTH}).status_code == 401
