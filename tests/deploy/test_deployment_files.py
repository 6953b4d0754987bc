"""The deployment files (Dockerfile, compose, Kubernetes, systemd) checked as files.

No container engine and no cluster: the Dockerfile is read as text, the compose file is
validated against the Compose specification's JSON schema (check-jsonschema) and read with
PyYAML, the Kubernetes manifests are read with PyYAML, the systemd units are parsed here
and, where the machine has it, verified by systemd-analyze. Every camerahub.yaml the files
ship must pass camerahub's own config loader. The image's health check script runs against
local servers.
"""

from __future__ import annotations

import http.server
import importlib.util
import ipaddress
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import tomllib
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest
import yaml

from camerahub.config import load_config
from camerahub.recorder import in_shard, parse_shard
from tests.support.paths import ROOT
from tests.support.tls import self_signed

DEPLOY = ROOT / "deploy"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
HEALTHCHECK = DEPLOY / "docker" / "healthcheck.py"
COMPOSE_DIR = DEPLOY / "compose"
COMPOSE = COMPOSE_DIR / "docker-compose.yml"
K8S = DEPLOY / "k8s"
SYSTEMD = DEPLOY / "systemd"
UNITS = sorted(SYSTEMD.glob("*.service"))

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "version"]
IMAGE = f"camerahub:{VERSION}"
DATA_DIR = "/var/lib/camerahub"
# Names of variables that carry secrets; they never get a literal value in these files.
SECRETISH = re.compile(r"PASSWORD|SECRET|KEY|TOKEN|CREDENTIAL", re.IGNORECASE)


# --- Dockerfile ---------------------------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith("#") or (not stripped and not buf):
            continue  # Docker drops comment lines, also inside a continuation
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        logical = (buf + line).strip()
        buf = ""
        if logical:
            keyword, _, rest = logical.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def dockerfile_stages() -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """Global ARG defaults (before the first FROM) and the instructions of each stage."""
    global_args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8")):
        if keyword == "FROM":
            stages.append([])
        if not stages:
            if keyword == "ARG":
                name, _, default = rest.partition("=")
                global_args[name] = default
            continue
        stages[-1].append((keyword, rest))
    return global_args, stages


def substitute(value: str, args: dict[str, str]) -> str:
    """${NAME} and $NAME from ARG defaults, as Docker substitutes them."""
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m[1], m[0]), value)


def stage_args(stage: list[tuple[str, str]]) -> dict[str, str]:
    return dict(rest.partition("=")[::2] for keyword, rest in stage if keyword == "ARG")


def env_pairs(rest: str) -> list[tuple[str, str]]:
    """The NAME=value pairs of one ENV instruction."""
    words = shlex.split(rest)
    if words and "=" not in words[0]:  # the legacy form: ENV NAME value
        return [(words[0], " ".join(words[1:]))]
    return [tuple(w.split("=", 1)) for w in words]  # type: ignore[misc]


def test_dockerfile_is_multi_stage_on_slim_python_311():
    global_args, stages = dockerfile_stages()
    assert len(stages) >= 2, "a build stage and a runtime stage"
    froms = [substitute(rest, global_args).split()
             for stage in stages for keyword, rest in stage if keyword == "FROM"]
    build, runtime = froms[0], froms[-1]
    assert [w.lower() for w in build[-2:]] == ["as", "build"]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-bookworm|-trixie)?", runtime[0]), runtime
    copies = [rest for keyword, rest in stages[-1] if keyword == "COPY"]
    assert any(c.startswith("--from=build ") for c in copies), "runtime copies the build"
    # The build stage makes a wheel of the project and installs that wheel.
    build_runs = " ".join(rest for keyword, rest in stages[0] if keyword == "RUN")
    assert "pip wheel" in build_runs and ".whl" in build_runs


def test_dockerfile_runs_as_a_fixed_non_root_user():
    global_args, stages = dockerfile_stages()
    runtime = stages[-1]
    users = [substitute(rest, {**global_args, **stage_args(runtime)})
             for keyword, rest in runtime if keyword == "USER"]
    assert users, "the runtime stage sets USER"
    user, _, group = users[-1].partition(":")
    assert user.isdigit() and int(user) != 0, f"numeric non-root uid, not {user!r}"
    assert not group or (group.isdigit() and int(group) != 0)
    # Kubernetes runs the same uid (runAsUser), so runAsNonRoot holds either way.
    for doc in k8s_docs():
        if doc["kind"] in WORKLOAD_KINDS:
            assert pod_spec(doc)["securityContext"]["runAsUser"] == int(user)


def test_dockerfile_healthcheck_entrypoint_port_and_data_volume():
    _, stages = dockerfile_stages()
    runtime = dict(stages[-1])  # the last of each instruction is the one that counts
    health = runtime["HEALTHCHECK"]
    cmd = json.loads(health[health.index("CMD") + 3:].strip())
    assert cmd[0] == "camerahub-healthcheck"
    copies = [shlex.split(rest) for keyword, rest in stages[-1] if keyword == "COPY"]
    assert ["deploy/docker/healthcheck.py", "/usr/local/bin/camerahub-healthcheck"] in copies
    assert "/healthz" in HEALTHCHECK.read_text(encoding="utf-8")
    assert json.loads(runtime["ENTRYPOINT"]) == ["camerahub"]
    assert runtime["EXPOSE"].split() == ["8000"]
    assert DATA_DIR in json.loads(runtime["VOLUME"])
    env = dict(p for keyword, rest in stages[-1] if keyword == "ENV" for p in env_pairs(rest))
    assert env["CAMERAHUB_DATA_DIR"] == DATA_DIR


def test_dockerfile_downloads_nothing_itself_and_bakes_in_no_secret():
    _, stages = dockerfile_stages()
    for stage in stages:
        for keyword, rest in stage:
            assert keyword != "ADD" or not re.search(r"\w+://", rest), f"ADD of a URL: {rest}"
            if keyword == "RUN":
                assert not re.search(r"\b(curl|wget)\b", rest), f"fetches by itself: {rest}"
            if keyword == "ENV":
                for name, value in env_pairs(rest):
                    assert not (SECRETISH.search(name) and value), f"secret in ENV: {name}"
            if keyword == "ARG":
                assert not SECRETISH.search(rest.partition("=")[0]), f"secret ARG: {rest}"
            if keyword == "COPY":
                assert not re.search(r"\.env\b|secrets|\.pem|\.key\b", rest), rest


# --- .dockerignore ------------------------------------------------------------------------

def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus **) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignore_excludes(path: str) -> bool:
    """Whether the build context leaves path out: the last rule matching it or one of its
    parent directories decides."""
    prefixes = ["/".join(path.split("/")[:n]) for n in range(1, path.count("/") + 2)]
    excluded = False
    for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        rule = _glob_regex(line.lstrip("!").strip().strip("/"))
        if any(rule.match(p) for p in prefixes):
            excluded = not negate
    return excluded


def test_dockerignore_keeps_secrets_and_clutter_out_and_the_sources_in():
    _, stages = dockerfile_stages()
    sources = [shlex.split(rest)[-2] for stage in stages for keyword, rest in stage
               if keyword == "COPY" and not rest.startswith("--from")]
    packaged = [str(p.relative_to(ROOT)) for top in ("camerahub", "simulator", "policies")
                for p in (ROOT / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    for path in [*sources, *packaged]:
        assert not dockerignore_excludes(path), f"the build needs {path}"
    for path in (".git/HEAD", ".venv/bin/python", "deploy/compose/.env",
                 "deploy/compose/secrets/tls.key", "deploy/k8s/api.yaml", "tests/conftest.py",
                 "var/demo/camerahub.db", "camerahub/__pycache__/cli.cpython-311.pyc",
                 "anywhere/server.pem", "anywhere/.env", "camerahub.yaml", ".sim-cache/x"):
        assert dockerignore_excludes(path), f"{path} must stay out of the build context"


# --- compose ------------------------------------------------------------------------------

def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return {k: (None if v is None else str(v)) for k, v in env.items()}


def camerahub_services(spec: dict) -> dict[str, dict]:
    return {name: s for name, s in spec["services"].items()
            if "camerahub" in str(s.get("image", "")).split("/")[-1].split(":")[0]}


def test_compose_file_matches_the_compose_specification(tmp_path):
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.fail("check-jsonschema is missing: it is a dev dependency (pip install -e .[dev])")
    broken = tmp_path / "broken-compose.yml"
    spec = compose()
    spec["services"]["api"]["helthcheck"] = {"test": ["CMD", "true"]}  # a typo is caught
    broken.write_text(yaml.safe_dump(spec), encoding="utf-8")

    def check(path: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
             "vendor.compose-spec", str(path)],
            capture_output=True, text=True, timeout=120, check=False)

    good = check(COMPOSE)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = check(broken)
    assert bad.returncode != 0 and "helthcheck" in bad.stdout + bad.stderr


def test_every_compose_service_is_healthchecked_or_waits_for_a_healthy_one():
    services = compose()["services"]
    one_shots = {n for n, s in services.items() if str(s.get("restart")) == "no"}

    def checked(name: str) -> bool:
        test = (services[name].get("healthcheck") or {}).get("test")
        return bool(test) and test not in (["NONE"], "NONE") and not \
            services[name]["healthcheck"].get("disable")

    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions waits for nothing"
        for dep, how in depends.items():
            wanted = ("service_completed_successfully" if dep in one_shots
                      else "service_healthy")
            assert how.get("condition") == wanted, f"{name} -> {dep}: {how}"
            assert dep in one_shots or checked(dep), f"{name} waits for {dep}, which has no check"
        if name in one_shots:
            assert depends, f"one-shot {name} must wait for a healthy service"
        else:
            assert checked(name), f"{name} has no healthcheck"
    for dep in one_shots:
        assert any(dep in (s.get("depends_on") or {}) for s in services.values()), \
            f"nothing waits for the one-shot {dep}"


def test_camerahub_services_use_the_image_built_from_the_dockerfile():
    spec = compose()
    ours = camerahub_services(spec)
    assert {"api", "recorder"} <= set(ours)
    for name, service in ours.items():
        assert service["image"] == IMAGE, f"{name}: tag the image with the project version"
        build = service["build"]
        assert (COMPOSE_DIR / build["context"]).resolve() == ROOT
        assert (ROOT / build.get("dockerfile", "Dockerfile")).resolve() == DOCKERFILE
    for name, service in spec["services"].items():
        assert "build" not in service or name in ours
    command = {name: s.get("command") for name, s in ours.items()}
    assert command["api"] == ["serve"]  # ENTRYPOINT is camerahub: no second "camerahub"
    assert command["recorder"][0] == "record"


def strings_in(node) -> list[str]:
    """Every string of a parsed YAML document (keys and values), where compose interpolates."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*strings_in(k), *strings_in(v))]
    if isinstance(node, list):
        return [s for item in node for s in strings_in(item)]
    return [node] if isinstance(node, str) else []


def _interpolations(value: str) -> list[str]:
    return re.findall(r"(?<!\$)\$\{([^}]*)\}", value)


def test_compose_holds_no_secret_value():
    spec = compose()
    for name, service in spec["services"].items():
        for key, value in environment(service).items():
            if not SECRETISH.search(key):
                continue
            # Only ${NAME}, ${NAME?msg} or ${NAME:?msg}: no literal, no default value.
            assert value is not None and re.fullmatch(
                r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}", value), \
                f"{name}: {key} must come from .env as ${{...}}, not {value!r}"
        for env_file in service.get("env_file") or []:
            assert env_file in (".env", "./.env")
    for name, secret in (spec.get("secrets") or {}).items():
        assert set(secret) & {"file", "environment", "external"}, f"secret {name}"
    # Nothing else in the file looks like a credential either.
    text = COMPOSE.read_text(encoding="utf-8")
    for match in re.finditer(r"(?im)^[ \t]*[\w-]*(password|secret)[\w-]*[ \t]*[:=][ \t]*(\S+)",
                             text):
        assert match[2].startswith(("${", '"${')), match[0]
    for url in re.findall(r"\w+(?:\+\w+)?://\S+", text):
        assert not urlsplit(url).password, f"password in a URL: {url}"


def test_compose_publishes_ports_on_loopback_by_default():
    env_example = env_file_values(COMPOSE_DIR / ".env.example")
    published = 0
    for name, service in compose()["services"].items():
        for port in service.get("ports") or []:
            published += 1
            if isinstance(port, dict):
                host_ip = port.get("host_ip")
            else:  # [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]
                parts = str(port).split("/")[0].rsplit(":", 2)
                host_ip = parts[0] if len(parts) == 3 else None
            assert host_ip, f"{name}: {port} is published on every address"
            variable = re.fullmatch(r"\$\{([A-Za-z_][A-Za-z0-9_]*):-([^}]*)\}", host_ip)
            if variable:  # settable in .env; loopback unless set
                assert variable[2] == "127.0.0.1", f"{name}: {port}"
                assert env_example.get(variable[1], "127.0.0.1") == "127.0.0.1"
            else:
                assert host_ip == "127.0.0.1", f"{name}: {port}"
    assert published


def env_file_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: {line!r}"
            values[key.strip()] = value.strip()
    return values


def test_compose_env_example_lists_every_variable_with_no_secret_filled_in():
    example = env_file_values(COMPOSE_DIR / ".env.example")
    used = {i.split(":")[0].split("?")[0].split("-")[0]
            for text in strings_in(compose()) for i in _interpolations(text)}
    assert used <= set(example), f"missing from .env.example: {sorted(used - set(example))}"
    for key, value in example.items():
        if SECRETISH.search(key):
            assert value == "", f".env.example must leave {key} empty"
    ignored = (COMPOSE_DIR / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in ignored and "secrets/" in ignored


def test_compose_camerahub_yaml_loads_and_points_at_the_compose_services():
    spec = compose()
    services = spec["services"]
    cfg = load_config(COMPOSE_DIR / "camerahub.yaml")
    for name, service in camerahub_services(spec).items():
        env = environment(service)
        mounts = {m.split(":")[1]: m.split(":")[0] for m in service["volumes"]}
        assert mounts[env["CAMERAHUB_CONFIG"]] == "./camerahub.yaml", name
    # Storage: MinIO of this file, the bucket minio-init creates with Object Lock.
    assert cfg.storage.backend == "s3"
    endpoint = urlsplit(cfg.storage.s3.endpoint_url)
    assert endpoint.hostname in services and endpoint.port == 9000
    assert "minio" in services[endpoint.hostname]["image"]
    init = services["minio-init"]
    assert environment(init)["CAMERAHUB_BUCKET"] == cfg.storage.s3.bucket
    policy = json.loads((COMPOSE_DIR / "minio" / "camerahub-policy.json").read_text())
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert resources == {f"arn:aws:s3:::{cfg.storage.s3.bucket}",
                         f"arn:aws:s3:::{cfg.storage.s3.bucket}/*"}
    script = (COMPOSE_DIR / "minio" / "minio-init.sh").read_text(encoding="utf-8")
    assert "mc mb --with-lock" in script and "retention info --default" in script
    assert "./minio/minio-init.sh:/init/minio-init.sh:ro" in init["volumes"]
    # Notices: the Mosquitto of this file.
    assert cfg.incidents.mqtt.host in services
    assert "mosquitto" in services[cfg.incidents.mqtt.host]["image"]
    # The API listens off loopback inside its container, so it must serve TLS, from files
    # that are compose secrets of the api service; so is the export key.
    api = services["api"]
    assert not ipaddress.ip_address(cfg.api.host).is_loopback and cfg.api.tls_cert_file
    granted = {f"/run/secrets/{s}" for s in api["secrets"]}
    for path in (cfg.api.tls_cert_file, cfg.api.tls_key_file, cfg.export.signing_key_file):
        assert str(path) in granted, path
    assert any(p.split(":")[-1] == str(cfg.api.port) for p in api["ports"])
    # Every secret the YAML names by variable reaches the services that read it.
    names = {cred.password_env for cred in cfg.credentials if cred.password_env}
    for service in ("api", "recorder"):
        assert names <= set(environment(services[service])), service
    assert cfg.auth.secret_env in environment(api)


# --- Kubernetes ---------------------------------------------------------------------------

WORKLOAD_KINDS = ("StatefulSet", "Deployment", "Job")


def k8s_docs() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        with path.open(encoding="utf-8") as fh:
            docs += [d for d in yaml.safe_load_all(fh) if d is not None]
    return docs


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def pod_labels(doc: dict) -> dict:
    return doc["spec"]["template"]["metadata"]["labels"]


def one(kind: str, component: str) -> dict:
    found = [d for d in k8s_docs() if d["kind"] == kind
             and d["metadata"]["labels"].get("app.kubernetes.io/component") == component]
    assert len(found) == 1, f"{kind} {component}: {len(found)}"
    return found[0]


def containers(doc: dict) -> list[dict]:
    return pod_spec(doc)["containers"] + pod_spec(doc).get("initContainers", [])


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def test_k8s_manifests_parse_into_the_expected_objects():
    docs = k8s_docs()
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind") and doc["metadata"].get("name"), doc
    kinds = sorted(d["kind"] for d in docs)
    assert kinds.count("PodDisruptionBudget") == 2
    for kind in ("ConfigMap", "StatefulSet", "Deployment", "Service"):
        assert kind in kinds
    assert "Secret" not in kinds, "secret values never live in a manifest"
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names))


def test_k8s_workloads_run_the_built_image():
    for doc in k8s_docs():
        if doc["kind"] in WORKLOAD_KINDS:
            for c in containers(doc):
                repository, _, tag = c["image"].rpartition(":")
                assert repository.rsplit("/", 1)[-1] == "camerahub", c["image"]
                assert tag == VERSION, f"{c['image']}: the image built from this version"


def test_k8s_api_and_recorder_have_probes():
    api, recorder = one("Deployment", "api"), one("StatefulSet", "recorder")
    (api_c,), (rec_c,) = containers(api), containers(recorder)
    ports = {p["name"]: p["containerPort"] for p in api_c["ports"]}
    cfg = configmap_config()
    for probe in ("livenessProbe", "readinessProbe"):
        get = api_c[probe]["httpGet"]
        assert get["path"] == "/healthz"
        assert ports.get(get["port"], get["port"]) == cfg.api.port
        assert get.get("scheme", "HTTP") == ("HTTPS" if cfg.api.tls_cert_file else "HTTP")
        command = rec_c[probe]["exec"]["command"]
        assert command[:2] == ["camerahub-healthcheck", "recorder"]
    assert rec_c["readinessProbe"]["exec"]["command"][2:] == ["--ready"]


def test_k8s_recorder_shard_is_the_pod_ordinal_of_spec_replicas():
    recorder = one("StatefulSet", "recorder")
    (c,) = containers(recorder)
    argv = [*c.get("command", []), *c.get("args", [])]
    assert argv[:2] == ["camerahub", "record"]
    shard = argv[argv.index("--shard") + 1]
    assert shard == "$(ORDINAL)/$(REPLICAS)"
    env = env_of(c)
    field = env["ORDINAL"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.labels['apps.kubernetes.io/pod-index']"
    replicas = recorder["spec"]["replicas"]
    assert env["REPLICAS"]["value"] == str(replicas), "REPLICAS must equal spec.replicas"
    # What the pods run, expanded: every camera lands in exactly one shard.
    cameras = [f"cam-{i:03d}" for i in range(200)]
    shards = []
    for ordinal in range(replicas):
        index, count = parse_shard(shard.replace("$(ORDINAL)", str(ordinal))
                                   .replace("$(REPLICAS)", env["REPLICAS"]["value"]))
        shards.append(in_shard(cameras, index, count))
    assert sorted(c for s in shards for c in s) == cameras


def test_k8s_secrets_come_only_from_secret_objects():
    for doc in k8s_docs():
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        for c in containers(doc):
            for name, e in env_of(c).items():
                if SECRETISH.search(name):
                    assert "value" not in e and "secretKeyRef" in e.get("valueFrom", {}), \
                        f"{doc['metadata']['name']}: {name} must come from a secretKeyRef"
                if "value" in e and "://" in e["value"]:
                    assert not urlsplit(e["value"]).password, f"password in {name}"
            for source in c.get("envFrom", []):
                assert set(source) <= {"secretRef", "configMapRef", "prefix"}


def test_k8s_each_workload_has_a_disruption_budget_of_its_own():
    docs = k8s_docs()
    workloads = [d for d in docs if d["kind"] in ("StatefulSet", "Deployment")]
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    for workload in workloads:
        labels = pod_labels(workload)
        selecting = [b for b in budgets
                     if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(selecting) == 1, f"{workload['metadata']['name']}: {len(selecting)} PDBs"
        others = [pod_labels(w) for w in workloads if w is not workload]
        for other in others:
            assert not selecting[0]["spec"]["selector"]["matchLabels"].items() <= other.items()
        assert workload["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_k8s_containers_are_bounded_and_locked_down():
    _, stages = dockerfile_stages()
    for doc in k8s_docs():
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec.get("automountServiceAccountToken") is False
        for c in containers(doc):
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][bound]), (c["name"], bound)
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, "a read-only root needs a writable /tmp"


def configmap_config():
    """The camerahub.yaml of the ConfigMap, through camerahub's loader."""
    (cm,) = [d for d in k8s_docs() if d["kind"] == "ConfigMap"]
    return _load_text(cm["data"]["camerahub.yaml"])


def _load_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "camerahub.yaml"
        path.write_text(text, encoding="utf-8")
        return load_config(path)


def test_k8s_config_comes_from_the_configmap_and_loads():
    (cm,) = [d for d in k8s_docs() if d["kind"] == "ConfigMap"]
    cfg = configmap_config()
    for doc in k8s_docs():
        if doc["kind"] not in WORKLOAD_KINDS:
            continue
        volumes = {v["name"]: v for v in pod_spec(doc)["volumes"]}
        for c in containers(doc):
            config = PurePosixPath(env_of(c)["CAMERAHUB_CONFIG"]["value"])
            mount = next(m for m in c["volumeMounts"] if m["mountPath"] == str(config.parent))
            assert volumes[mount["name"]]["configMap"]["name"] == cm["metadata"]["name"]
            assert config.name in cm["data"]
    # The API's TLS pair and export key are files of mounted Secret volumes.
    api = one("Deployment", "api")
    (c,) = containers(api)
    volumes = {v["name"]: v for v in pod_spec(api)["volumes"]}
    secret_dirs = {m["mountPath"] for m in c["volumeMounts"] if "secret" in volumes[m["name"]]}
    for path in (cfg.api.tls_cert_file, cfg.api.tls_key_file, cfg.export.signing_key_file):
        assert str(PurePosixPath(path).parent) in secret_dirs, path
    assert not ipaddress.ip_address(cfg.api.host).is_loopback and cfg.api.tls_cert_file
    # What the YAML names by variable is set in the pods that read it.
    names = {cred.password_env for cred in cfg.credentials if cred.password_env}
    assert names | {cfg.auth.secret_env} <= set(env_of(c))


def test_k8s_services_reach_their_pods():
    api = one("Deployment", "api")
    (c,) = containers(api)
    service = one("Service", "api")
    assert service["spec"]["selector"].items() <= pod_labels(api).items()
    names = {p["name"] for p in c["ports"]} | {p["containerPort"] for p in c["ports"]}
    assert all(p["targetPort"] in names for p in service["spec"]["ports"])
    recorder = one("StatefulSet", "recorder")
    headless = one("Service", "recorder")
    assert recorder["spec"]["serviceName"] == headless["metadata"]["name"]
    assert headless["spec"]["clusterIP"] == "None"


# --- systemd ------------------------------------------------------------------------------

def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as (key, value) lists (keys may repeat, as systemd allows)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None and not line.endswith("\\"), \
            f"{path.name}:{number}: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
def test_systemd_units_parse_and_are_hardened(unit):
    sections = parse_unit(unit)
    assert {"Unit", "Service", "Install"} <= set(sections)
    service = sections["Service"]
    settings = dict(service)  # systemd: the last assignment of a setting wins
    assert settings["User"] not in ("root", "0") and settings["Group"] not in ("root", "0")
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["ProtectSystem"] == "strict"
    assert settings["PrivateTmp"] == "yes"
    assert settings["Restart"] in ("always", "on-failure")
    assert DATA_DIR in " ".join(values(service, "ReadWritePaths")).split()
    env = dict(v.split("=", 1) for v in values(service, "Environment"))
    assert env["CAMERAHUB_DATA_DIR"] == DATA_DIR
    assert not [k for k in env if SECRETISH.search(k)], "secrets go in the EnvironmentFile"
    assert values(service, "EnvironmentFile") == ["/etc/camerahub/camerahub.env"]
    argv = shlex.split(settings["ExecStart"])
    assert PurePosixPath(argv[0]).is_absolute() and PurePosixPath(argv[0]).name == "camerahub"
    assert argv[1] in ("serve", "record")
    assert values(sections["Install"], "WantedBy") == ["multi-user.target"]


def test_systemd_env_example_has_names_and_no_secret():
    example = env_file_values(SYSTEMD / "camerahub.env.example")
    for key, value in example.items():
        if SECRETISH.search(key):  # empty, or the path of a key file
            assert value == "" or PurePosixPath(value).is_absolute(), key
        if "://" in value:
            assert not urlsplit(value).password, key


def _systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed on this machine; the parse check above "
                    "still covers the unit files")
    return path


def _units_with_real_binary(tmp_path: Path) -> list[Path]:
    """Copies of the units whose ExecStart names this environment's camerahub, since
    `systemd-analyze verify` refuses a command that does not exist."""
    binary = Path(sys.executable).with_name("camerahub")
    if not binary.exists():
        found = shutil.which("camerahub")
        if found is None:
            pytest.skip("no camerahub executable to stand in for /opt/camerahub/bin/camerahub")
        binary = Path(found)
    copies = []
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        assert "ExecStart=/opt/camerahub/bin/camerahub " in text
        copy = tmp_path / unit.name
        copy.write_text(text.replace("/opt/camerahub/bin/camerahub", str(binary)),
                        encoding="utf-8")
        copies.append(copy)
    return copies


def test_systemd_units_pass_systemd_analyze_verify(tmp_path):
    analyze = _systemd_analyze()
    copies = _units_with_real_binary(tmp_path)
    result = subprocess.run([analyze, "verify", *map(str, copies)], capture_output=True,
                            text=True, timeout=120, check=False, cwd=tmp_path)
    # verify exits 0 on unknown keys and unparsable values too; any message is a failure.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), \
        result.stdout + result.stderr


def test_systemd_units_expose_little(tmp_path):
    analyze = _systemd_analyze()
    help_text = subprocess.run([analyze, "security", "--help"], capture_output=True, text=True,
                               timeout=60, check=False).stdout
    if "--offline" not in help_text:
        pytest.skip("this systemd-analyze cannot score unit files offline (systemd < 250)")
    for copy in _units_with_real_binary(tmp_path):
        result = subprocess.run([analyze, "security", "--offline=true", "--no-pager",
                                 str(copy)], capture_output=True, text=True, timeout=120,
                                check=False, cwd=tmp_path)
        score = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout)
        assert score, result.stdout + result.stderr
        assert float(score[1]) <= 2.5, f"{copy.name}: exposure {score[1]}\n{result.stdout}"


# --- the image's health check script ------------------------------------------------------

class _Healthz(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 - the name http.server calls
        body = json.dumps({"status": "ok" if self.status == 200 else "unavailable"}).encode()
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def healthz_server(tmp_path):
    """Start a /healthz server on 127.0.0.1: serve(status, tls) -> port."""
    servers = []

    def serve(status: int = 200, tls: bool = False) -> int:
        handler = type("Handler", (_Healthz,), {"status": status})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        if tls:
            cert, key = self_signed(tmp_path, "camerahub.example")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server.server_address[1]

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def healthcheck(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CAMERAHUB_")}
    return subprocess.run([sys.executable, str(HEALTHCHECK), *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_healthcheck_api_follows_healthz(healthz_server, tls):
    port = healthz_server(200, tls=tls)
    ok = healthcheck("api", CAMERAHUB_HEALTHZ_PORT=str(port))
    assert ok.returncode == 0, ok.stderr
    failing = healthcheck("api", CAMERAHUB_HEALTHZ_PORT=str(healthz_server(503, tls=tls)))
    assert failing.returncode == 1 and "503" in failing.stderr
    scheme = "https" if tls else "http"
    explicit = healthcheck("api", CAMERAHUB_HEALTHZ_URL=f"{scheme}://127.0.0.1:{port}/healthz")
    assert explicit.returncode == 0, explicit.stderr


def test_healthcheck_api_fails_when_nothing_listens():
    result = healthcheck("api", CAMERAHUB_HEALTHZ_PORT=str(_closed_port()))
    assert result.returncode == 1 and result.stderr.startswith("unhealthy:")


def test_healthcheck_recorder_checks_the_spool_volume_and_database(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    assert healthcheck("recorder", CAMERAHUB_DATA_DIR=str(data)).returncode == 0
    assert list(data.iterdir()) == [], "the probe file is removed"
    missing = healthcheck("recorder", CAMERAHUB_DATA_DIR=str(tmp_path / "absent"))
    assert missing.returncode == 1 and "not writable" in missing.stderr
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        up = f"postgresql+psycopg2://camerahub@127.0.0.1:{listener.getsockname()[1]}/camerahub"
        ready = healthcheck("recorder", "--ready", CAMERAHUB_DATA_DIR=str(data),
                            CAMERAHUB_DATABASE_URL=up)
        assert ready.returncode == 0, ready.stderr
    down = f"postgresql+psycopg2://camerahub@127.0.0.1:{_closed_port()}/camerahub"
    unready = healthcheck("recorder", "--ready", CAMERAHUB_DATA_DIR=str(data),
                          CAMERAHUB_DATABASE_URL=down)
    assert unready.returncode == 1 and "database" in unready.stderr
    sqlite = healthcheck("recorder", "--ready", CAMERAHUB_DATA_DIR=str(data),
                         CAMERAHUB_DATABASE_URL=f"sqlite:///{data}/camerahub.db")
    assert sqlite.returncode == 0
    assert healthcheck("bogus").returncode == 2
