"""The OpenAPI document states what each route really returns: statuses, media types, who may
call it, and the parameters the global dependency reads."""

from __future__ import annotations

import pytest

from camerahub.api import openapi
from camerahub.api.errors import RESPONSES
from camerahub.errors import ErrorKind

CAMERA = "/api/v1/cameras/{camera_id}"
FOOTAGE = {"400", "401", "403", "404"}
EXPECTED = {  # (method, path): statuses the route can return besides 422
    ("post", "/api/v1/auth/token"): {"200", "401", "413"},
    ("get", "/api/v1/auth/me"): {"200", "401"},
    ("post", "/api/v1/auth/revoke"): {"204", "401"},
    ("get", "/api/v1/cameras"): {"200", "401"},
    ("get", CAMERA): {"200", "401", "404"},
    ("post", f"{CAMERA}/media-token"): {"200", "401", "404"},
    ("post", "/api/v1/live/media-tokens"): {"200", "401"},
    ("get", f"{CAMERA}/recordings"): {"200"} | FOOTAGE,
    ("get", f"{CAMERA}/clip.mp4"): {"200", "502", "503"} | FOOTAGE,
    ("get", f"{CAMERA}/playback.m3u8"): {"200"} | FOOTAGE,
    ("get", f"{CAMERA}/timeline"): {"200"} | FOOTAGE,
    ("get", f"{CAMERA}/thumbnail.jpg"): {"200", "502", "503"} | FOOTAGE,
    ("get", f"{CAMERA}/segments/{{segment_id}}.ts"): {"200", "502", "503"} | FOOTAGE,
    ("get", f"{CAMERA}/live.mp4"): {"200", "503"} | FOOTAGE,
    ("get", f"{CAMERA}/snapshot.jpg"): {"200", "503"} | FOOTAGE,
    ("get", "/api/v1/live-views"): {"200", "401", "403"},
    ("put", "/api/v1/live-views/{name}"): {"200", "400", "401", "403"},
    ("delete", "/api/v1/live-views/{name}"): {"204", "401", "403", "404"},
    ("post", "/api/v1/alerts"): {"200", "202", "400", "401", "403", "413"},
    ("get", "/api/v1/incidents"): {"200", "401"},
    ("post", "/api/v1/incidents"): {"201", "400", "401", "403", "404", "413"},
    ("get", "/api/v1/incidents/{incident_id}"): {"200", "401", "404"},
    ("post", "/api/v1/incidents/{incident_id}/state"): {"200", "400", "401", "403", "404",
                                                         "409", "413"},
    ("post", "/api/v1/incidents/{incident_id}/release"): {"200", "401", "403", "404"},
    ("get", "/api/v1/incidents/{incident_id}/notes"): {"200", "401", "404"},
    ("post", "/api/v1/incidents/{incident_id}/notes"): {"201", "400", "401", "403", "404",
                                                         "413"},
    ("post", "/api/v1/incidents/{incident_id}/approve"): {"200", "401", "403", "404", "409"},
    ("post", "/api/v1/incidents/{incident_id}/export"): {"200", "400", "401", "403", "404"},
    ("get", "/api/v1/audit"): {"200", "400", "401", "403"},
    ("get", "/api/v1/audit/summary"): {"200", "400", "401", "403"},
    ("get", "/api/v1/audit.csv"): {"200", "400", "401", "403"},
    ("get", "/api/v1/register/viewing"): {"200", "400", "401", "403", "503"},
    ("get", "/healthz"): {"200", "503"},
    ("get", "/metrics"): {"200", "401", "403"},
    ("get", "/readyz"): {"200", "503"},
    ("get", "/api/v1/ops/overview"): {"200", "401", "403"},
    ("get", "/api/v1/ops/alarms"): {"200", "401", "403"},
}
MEDIA = {
    f"{CAMERA}/live.mp4": "video/mp4",
    f"{CAMERA}/snapshot.jpg": "image/jpeg",
    f"{CAMERA}/clip.mp4": "video/mp4",
    f"{CAMERA}/thumbnail.jpg": "image/jpeg",
    f"{CAMERA}/playback.m3u8": "application/vnd.apple.mpegurl",
    f"{CAMERA}/segments/{{segment_id}}.ts": "video/mp2t",
    "/api/v1/incidents/{incident_id}/export": "application/zip",
    "/api/v1/audit.csv": "text/csv",
    "/metrics": "text/plain",
}


@pytest.fixture(scope="module")
def spec(api) -> dict:
    """The document as served."""
    return api.client.get("/openapi.json").json()


def _operations(spec: dict):
    for path, ops in spec["paths"].items():
        if "/_test/" not in path:
            for method, op in ops.items():
                yield method, path, op


def test_every_route_is_listed_with_its_statuses(spec):
    listed = {(method, path): set(op["responses"]) - {"422"}
              for method, path, op in _operations(spec)}
    assert listed == EXPECTED


@pytest.mark.parametrize(("path", "media_type"), MEDIA.items())
def test_media_routes_state_their_real_media_type(spec, path, media_type):
    ops = spec["paths"][path]
    (op,) = ops.values()
    ok = op["responses"]["200"]
    assert list(ok["content"]) == [media_type]  # and not application/json
    for status, response in op["responses"].items():
        if status.startswith("4") or status.startswith("5"):
            assert list(response["content"]) == ["application/json"], (path, status)


def test_the_audit_listing_offers_json_and_csv(spec):
    content = spec["paths"]["/api/v1/audit"]["get"]["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/csv"}


def test_errors_share_one_schema_and_the_tables_headers(spec):
    ref = "#/components/schemas/ErrorOut"
    for _, _, op in _operations(spec):
        for status, response in op["responses"].items():
            if status[0] in "45" and status != "422" and "content" in response:
                schema = response["content"]["application/json"].get("schema", {})
                assert schema.get("$ref", ref) == ref
        if "401" in op["responses"]:
            assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
    documented = set(openapi.DESCRIPTIONS)
    assert documented == set(RESPONSES) - {ErrorKind.INTERNAL}  # 500 is never promised


def test_who_may_call_what(spec):
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"bearer", "apiKey", "mediaToken"}
    for method, path, op in _operations(spec):
        if path in ("/healthz", "/readyz", "/api/v1/auth/token"):
            assert op["security"] == [], path
            continue
        names = {name for requirement in op["security"] for name in requirement}
        camera_route = path.startswith(f"{CAMERA}")
        assert names == ({"bearer", "apiKey", "mediaToken"} if camera_route
                         else {"bearer", "apiKey"}), (method, path)
        assert "401" in op["responses"], (method, path)


def _params(op: dict) -> dict[str, dict]:
    return {p["name"]: p for p in op.get("parameters", [])}


def test_parameters_the_global_dependency_reads_are_declared(spec):
    for path in ("recordings", "timeline", "clip.mp4", "playback.m3u8",
                 "segments/{segment_id}.ts"):
        params = _params(spec["paths"][f"{CAMERA}/{path}"]["get"])
        assert params["start"]["required"] and params["end"]["required"]
        assert params["start"]["schema"]["format"] == "date-time"
        assert {"reason", "X-Camerahub-Reason"} <= set(params)
    for path in ("live.mp4", "snapshot.jpg"):
        params = _params(spec["paths"][f"{CAMERA}/{path}"]["get"])
        assert {"reason", "X-Camerahub-Reason"} <= set(params) and "start" not in params
    for path in ("/api/v1/incidents/{incident_id}",
                 f"{CAMERA}/segments/{{segment_id}}.ts"):
        (op,) = spec["paths"][path].values()
        ids = [p for p in op["parameters"] if p["in"] == "path" and p["name"].endswith("_id")
               and p["name"] != "camera_id"]
        assert ids and all(p["schema"]["format"] == "int64" for p in ids)


def test_enums_are_enums(spec):
    audit = _params(spec["paths"]["/api/v1/audit"]["get"])
    assert audit["decision"]["schema"]["anyOf"][0]["enum"] == ["allow", "deny", "fail", "info"]
    assert audit["format"]["schema"]["anyOf"][0]["enum"] == ["json", "csv"]
    state = _params(spec["paths"]["/api/v1/incidents"]["get"])["state"]
    assert state["schema"]["anyOf"][0]["enum"] == ["open", "reviewing", "closed"]


def test_405_names_every_method_of_the_path(api):
    resp = api.client.put("/api/v1/incidents", headers=api.auth("kiki-sato"))
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, POST"
    assert resp.json() == {"detail": "Method Not Allowed"}
