"""The example Prometheus rules and the Grafana dashboard in deploy/: they parse, have the
fields each tool needs, and name only metrics /metrics really exposes."""

from __future__ import annotations

import json
import re

import yaml

from camerahub.api.metrics import METRIC_NAMES
from tests.support.paths import ROOT

RULES = ROOT / "deploy" / "prometheus" / "camerahub-alerts.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "camerahub-dashboard.json"
METRIC = re.compile(r"\bcamerahub_[a-z0-9_]+\b")


def _unknown(expr: str) -> set[str]:
    return set(METRIC.findall(expr)) - set(METRIC_NAMES)


def test_alert_rules_parse_with_the_expected_fields():
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert all(group["name"] for group in doc["groups"]) and len(rules) >= 8
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names))
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
        assert rule["expr"] and METRIC.search(rule["expr"]), rule
        assert not _unknown(rule["expr"]), (rule["alert"], _unknown(rule["expr"]))
        assert rule["labels"]["severity"] in ("page", "warning")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"])


def test_dashboard_names_only_metrics_that_exist():
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dash["title"] and dash["uid"] and dash["panels"]
    used = set()
    for panel in dash["panels"]:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert not _unknown(target["expr"]), (panel["title"], _unknown(target["expr"]))
            used |= set(METRIC.findall(target["expr"]))
    # and it shows every metric there is
    assert set(METRIC_NAMES) - used == set(), set(METRIC_NAMES) - used
