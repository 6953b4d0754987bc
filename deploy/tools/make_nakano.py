"""Regenerate deploy/examples/nakano.yaml (100 cameras) from the tables below.

Run: python deploy/tools/make_nakano.py > deploy/examples/nakano.yaml
The example is data; this script only keeps its 100 cameras consistent with the
simulator's address plan (HQ 127.0.1.x, facilities 127.0.2.x).
"""

from __future__ import annotations

import yaml

# department id, name, head, [(division id, name, manager, floor, [(room id, name, cameras)])]
HQ = [
    ("kumin", "区民部", "bucho-kumin", [
        ("koseki", "戸籍住民分野", "tokatsu-koseki", 1, [
            ("hq-1f-koseki", "1階 戸籍執務室", 4),
            ("hq-1f-jumin", "1階 住民記録執務室", 4),
            ("hq-1f-shomei", "1階 証明発行執務室", 2)]),
        ("zeimu", "税務分野", "tokatsu-zeimu", 2, [
            ("hq-2f-kazei-a", "2階 課税執務室A", 4),
            ("hq-2f-kazei-b", "2階 課税執務室B", 3),
            ("hq-2f-shuno", "2階 収納執務室", 3)]),
        ("hoken", "保険医療分野", "tokatsu-hoken", 2, [
            ("hq-2f-kokuho", "2階 国民健康保険執務室", 4),
            ("hq-2f-koki", "2階 後期高齢者医療執務室", 2)]),
    ]),
    ("kodomo", "子ども教育部", "bucho-kodomo", [
        ("kosodate", "子育て支援分野", "tokatsu-kosodate", 3, [
            ("hq-3f-kosodate", "3階 子育て支援執務室", 4),
            ("hq-3f-hoiku", "3階 保育園・幼稚園執務室", 3)]),
        ("gakuji", "学校教育分野", "tokatsu-gakuji", 3, [
            ("hq-3f-gakuji", "3階 学事執務室", 3)]),
    ]),
    ("kenko", "健康福祉部", "bucho-kenko", [
        ("shogai", "障害福祉分野", "tokatsu-shogai", 4, [
            ("hq-4f-shogai", "4階 障害福祉執務室", 4),
            ("hq-4f-fukushi", "4階 福祉推進執務室", 2)]),
        ("seikatsu", "生活援護分野", "tokatsu-seikatsu", 4, [
            ("hq-4f-seikatsu", "4階 生活援護執務室", 5)]),
        ("kaigo", "介護・高齢者支援分野", "tokatsu-kaigo", 4, [
            ("hq-4f-kaigo", "4階 介護保険執務室", 5),
            ("hq-4f-koreisha", "4階 高齢者支援執務室", 3)]),
    ]),
]

SUKOYAKA = [("chubu", "中部"), ("hokubu", "北部"), ("nanbu", "南部"), ("saginomiya", "鷺宮")]
KATSUDO = [("minaminakano", "南中野"), ("yayoi", "弥生"), ("tobu", "東部"), ("nabeyoko", "鍋横"),
           ("momozono", "桃園"), ("showa", "昭和"), ("higashinakano", "東中野"),
           ("kamitakada", "上高田"), ("arai", "新井"), ("egota", "江古田"), ("numabukuro", "沼袋"),
           ("nogata", "野方"), ("yamato", "大和"), ("saginomiya", "鷺宮"),
           ("kamisaginomiya", "上鷺宮")]
JIMUSHO = [("minami", "南"), ("higashi", "東"), ("kita", "北"), ("nishi", "西"), ("naka", "中")]


def hq_org():
    """Departments at HQ, with rooms and camera counts."""
    depts, cams = [], []
    for dept_id, dept_name, head, divisions in HQ:
        divs = []
        for div_id, div_name, manager, floor, rooms in divisions:
            divs.append({"id": div_id, "name": div_name, "managers": [manager], "rooms": [
                {"id": r, "name": n, "site": "hq", "floor": floor} for r, n, _ in rooms]})
            cams += [("hq", r, n, count) for r, n, count in rooms]
        depts.append({"id": dept_id, "name": dept_name, "head": head, "divisions": divs})
    return depts, cams


def facilities():
    """Outside facilities as sites, their rooms owned by divisions of two departments."""
    sites, sukoyaka_divs, katsudo_rooms, jimusho_rooms, cams = [], [], [], [], []
    for key, name in SUKOYAKA:
        site = f"sukoyaka-{key}"
        sites.append((site, f"{name}すこやか福祉センター", "すこやか福祉センター", 5))
        rooms = [{"id": f"{site}-soudan", "name": "相談執務室", "site": site, "floor": 1},
                 {"id": f"{site}-jimu", "name": "事務室", "site": site, "floor": 2}]
        sukoyaka_divs.append({"id": f"sukoyaka-{key}", "name": f"{name}すこやか福祉センター",
                              "managers": [f"tokatsu-sukoyaka-{key}"], "rooms": rooms})
        cams += [(site, rooms[0]["id"], rooms[0]["name"], 3),
                 (site, rooms[1]["id"], rooms[1]["name"], 2)]
    for key, name in KATSUDO:
        site = f"katsudo-{key}"
        sites.append((site, f"{name}区民活動センター", "区民活動センター", 1))
        katsudo_rooms.append({"id": f"{site}-jimu", "name": f"{name} 事務室", "site": site,
                              "floor": 1})
        cams.append((site, f"{site}-jimu", f"{name} 事務室", 1))
    for key, name in JIMUSHO:
        site = f"jimusho-{key}"
        sites.append((site, f"{name}部地域事務所", "地域事務所", 2))
        jimusho_rooms.append({"id": f"{site}-madoguchi", "name": f"{name}部 窓口執務室",
                              "site": site, "floor": 1})
        cams.append((site, f"{site}-madoguchi", f"{name}部 窓口執務室", 2))
    dept = {"id": "chiiki", "name": "地域支えあい推進部", "head": "bucho-chiiki", "divisions":
            sukoyaka_divs + [{"id": "katsudo", "name": "地域活動推進分野",
                              "managers": ["tokatsu-katsudo"], "rooms": katsudo_rooms}]}
    return sites, dept, jimusho_rooms, cams


def cameras(cam_rooms, base, limit):
    """Camera entries numbered per room, addresses base.1 upwards."""
    out, n = [], 0
    for site, room, room_name, count in cam_rooms:
        for i in range(1, count + 1):
            n += 1
            out.append({"id": f"{room}-{i:02d}", "name": f"{room_name} カメラ{i}", "site": site,
                        "room": room, "address": f"{base}.{n}"})
    assert n == limit, (n, limit)
    return out


def devices():
    """Desired camera settings: a global default, lighter streams at the one-camera centres."""
    return {
        "defaults": {
            "encoders": {
                "main": {"resolution": "1280x720", "fps": 15, "bitrate_kbps": 2048, "gop": 30,
                         "h264_profile": "Main"},
                "sub": {"resolution": "640x360", "fps": 10, "bitrate_kbps": 512, "gop": 20,
                        "h264_profile": "Baseline"},
            },
            # .invalid names: the example must never make a camera contact a real server
            "ntp": ["ntp1.cctv.nakano.invalid", "ntp2.cctv.nakano.invalid"],
            "timezone": "JST-9",
            "hostname": "{id}",
            "name": "{name}",  # the ONVIF device name follows the file's camera name
        },
        "sites": {f"katsudo-{key}": {"encoders": {"main": {"fps": 10, "bitrate_kbps": 1024}}}
                  for key, _ in KATSUDO},
    }


def with_device(cams):
    """The counter camera of the 1F 戸籍 room records at full HD (camera-level override)."""
    for cam in cams:
        if cam["id"] == "hq-1f-koseki-01":
            cam["device"] = {"encoders": {"main": {"resolution": "1920x1080",
                                                   "bitrate_kbps": 4096}}}
    return cams


def terminals(rooms):
    """Two or three resident-information terminals per room."""
    out = []
    for room in rooms:
        for i in range(1, 3 if room["site"] != "hq" else 4):
            out.append({"id": f"T-{room['id'].upper()}-{i:02d}", "room": room["id"]})
    return out


def users(depts):
    """One user per manager and head, plus crisis-management, ops and auditor staff."""
    out = [
        {"id": "kiki-sato", "name": "佐藤 健一（危機管理）", "role": "crisis-management"},
        {"id": "kiki-suzuki", "name": "鈴木 美咲（危機管理）", "role": "crisis-management"},
        {"id": "ops-takahashi", "name": "高橋 誠（情報システム担当）", "role": "ops"},
        {"id": "audit-watanabe", "name": "渡辺 直子（情報安全対策委員会）", "role": "auditor"},
    ]
    for dept in depts:
        out.append({"id": dept["head"], "name": f"{dept['name']}長", "role": "department-head",
                    "scope": dept["id"]})
        for div in dept["divisions"]:
            for m in div["managers"]:
                out.append({"id": m, "name": f"{div['name']} 統括管理者",
                            "role": "division-manager", "scope": div["id"]})
    return out


def build():
    """The whole example deployment as a dict."""
    depts, hq_cams = hq_org()
    fac_sites, chiiki, jimusho_rooms, fac_cams = facilities()
    depts[0]["divisions"][0]["rooms"] += jimusho_rooms  # branch offices belong to 戸籍住民分野
    depts.append(chiiki)
    sites = [{"id": "hq", "name": "中野区役所 本庁舎", "kind": "headquarters",
              "discovery": {"mode": "unicast", "targets": ["127.0.1.1-127.0.1.55"]}}]
    n = 0
    for site, name, ftype, count in fac_sites:
        first, n = n + 1, n + count
        sites.append({"id": site, "name": name, "kind": "facility", "facility_type": ftype,
                      "discovery": {"mode": "unicast",
                                    "targets": [f"127.0.2.{first}-127.0.2.{n}"]}})
    rooms = [r for d in depts for v in d["divisions"] for r in v["rooms"]]
    return {
        "version": 1,
        "system": {"name": "中野区 監視カメラシステム", "timezone": "Asia/Tokyo", "language": "ja"},
        "sites": sites,
        "org": {"departments": depts},
        "credentials": [{"id": "camera-admin", "username": "admin",
                         "password_env": "CAMERAHUB_CAMERA_PASSWORD"}],
        "defaults": {"port": 8080, "credential": "camera-admin", "profile": "sub",
                     "record_profile": "main"},
        "cameras": with_device(cameras(hq_cams, "127.0.1", 55) + cameras(fac_cams, "127.0.2", 45)),
        "devices": devices(),
        "terminals": terminals(rooms),
        "storage": {"backend": "file", "file": {"path": "segments"}},
        "recorder": {"segment_seconds": 10, "spool_limit_mb": 20480, "upload_workers": 8},
        "retention": {"default_days": 30},
        "access": {"manager_playback": "standing", "manager_live": False},
        "auth": {"secret_env": "CAMERAHUB_SECRET_KEY", "token_ttl_minutes": 15,
                 "password_min_length": 12},
        "incidents": {"margin_minutes": 15, "grant_hours": 72,
                      "mqtt": {"host": "127.0.0.1", "port": 1883, "topic_prefix": "camerahub"}},
        "export": {"signing_key_env": "CAMERAHUB_EXPORT_KEY"},
        "users": users(depts),
        "alert_sources": [{"id": "log-analyzer", "name": "住民情報基盤 操作ログ解析ツール"}],
    }


HEADER = """\
# 中野区 監視カメラシステム: the example deployment (100 cameras).
# 55 cameras at headquarters (本庁舎), 45 at outside facilities
# (すこやか福祉センター, 区民活動センター, 地域事務所). Addresses match camerahub-sim:
# HQ 127.0.1.1-55, facilities 127.0.2.1-45.
# Secrets are references only: CAMERAHUB_CAMERA_PASSWORD, CAMERAHUB_SECRET_KEY,
# CAMERAHUB_EXPORT_KEY come from the environment (or *_file: paths).
# For S3-compatible storage replace the storage section with, for example:
#   storage:
#     backend: s3
#     s3: {bucket: nakano-cctv, endpoint_url: "https://s3.example.internal",
#          region: ap-northeast-1, path_style: true}
# (create the bucket with Object Lock: camerahub detects it and sets legal holds)
# devices: settings pushed to the cameras by `camerahub deploy plan|apply --devices`
# (camera `device:` > `devices.sites` > `devices.defaults`; unset fields are left alone).
# Regenerate with: python deploy/tools/make_nakano.py > deploy/examples/nakano.yaml
"""

if __name__ == "__main__":
    print(HEADER + yaml.safe_dump(build(), allow_unicode=True, sort_keys=False, width=100), end="")
