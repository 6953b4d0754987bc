"""A hostile deployment file is refused before it can cost memory, a traceback or a row.

Each case below was found by hand (alias bomb to gigabytes, RecursionError on deep nesting,
one camera registered under three spellings of its address, a NUL stored on SQLite and a
traceback on PostgreSQL); the classes around them are covered by the parametrized tables.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from camerahub.cli import main
from camerahub.config import ConfigError, parse_config
from camerahub.config.cameras import canonical_host
from camerahub.config.loader import MAX_DEPTH

ROOT = Path(__file__).resolve().parents[2]
MINIMAL_TEXT = (ROOT / "deploy" / "examples" / "minimal.yaml").read_text(encoding="utf-8")


def laughs(levels: int = 9, fan: int = 9) -> str:
    """The classic "billion laughs": each level an alias list of the one before (2 KB)."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * fan) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fan) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = [
    ("alias-bomb", laughs(), "expands to more than"),
    ("alias-bomb-in-a-section", "sites: &s [" + ", ".join(["{id: hq, name: x}"] * 20) + "]\n"
     + "".join(f"x{i}: &x{i} [" + ", ".join([f"*{'s' if i == 0 else f'x{i - 1}'}"] * 20) + "]\n"
               for i in range(6)), "expands to more than"),
    ("recursive-alias", "sites: &x [*x]\n", "inside what it names"),
    ("deep-flow", "sites: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested deeper than"),
    ("deep-block", "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)), "nested deeper"),
]


@pytest.mark.parametrize("text,fragment", [c[1:] for c in HOSTILE], ids=[c[0] for c in HOSTILE])
def test_hostile_shapes_are_refused_with_a_line(text, fragment):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "hostile.yaml")
    (issue,) = caught.value.issues
    assert fragment in issue.message and issue.line is not None


def _limited_cli(path: Path, limit_mb: int = 2048) -> subprocess.CompletedProcess:
    """`camerahub deploy plan -f path` with its address space capped at limit_mb."""
    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
    code = "import sys; from camerahub.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, "deploy", "plan", "-f", str(path)],
                          capture_output=True, text=True, preexec_fn=cap, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "CAMERAHUB_DATABASE_URL":
                               f"sqlite:///{path.parent / 'db.sqlite'}"})


@pytest.mark.parametrize("name", ["alias-bomb", "deep-flow"])
def test_cli_refuses_hostile_file_in_bounded_memory_with_exit_2(name, tmp_path):
    path = tmp_path / f"{name}.yaml"
    path.write_text(dict((c[0], c[1]) for c in HOSTILE)[name], encoding="utf-8")
    done = _limited_cli(path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert "invalid configuration" in done.stderr and str(path) in done.stderr


def test_anchors_and_aliases_of_ordinary_size_still_work():
    data = yaml.safe_load(MINIMAL_TEXT)
    text = "x-room: &room hq-1f-koseki\n" + yaml.safe_dump(data, allow_unicode=True)
    text = text.replace("room: hq-1f-koseki", "room: *room")
    with pytest.raises(ConfigError) as caught:  # x-room is not a section: only that is wrong
        parse_config(text, "anchors.yaml")
    assert [i.path for i in caught.value.issues] == ["x-room"]


SPELLINGS = [
    ("127.0.1.1", "127.0.1.1"),
    ("CAM-01.Example.", "cam-01.example"),
    ("0:0:0:0:0:0:0:1", "::1"),
    ("FE80:0::1", "fe80::1"),
]
AMBIGUOUS = ["127.0.1.01", "127.000.001.001", "2130706689", "127.1", "0x7f.0.1.1", "0X7F.1",
             "256.0.0.1", "1.2.3.4.5"]


@pytest.mark.parametrize("given,canonical", SPELLINGS)
def test_addresses_are_stored_in_one_spelling(given, canonical):
    assert canonical_host(given) == canonical


@pytest.mark.parametrize("given", AMBIGUOUS)
def test_ambiguous_ipv4_spellings_are_refused(given):
    with pytest.raises(ValueError, match="dotted-quad"):
        canonical_host(given)


def _with_second_camera_at(address: str) -> str:
    data = yaml.safe_load(MINIMAL_TEXT)
    first, second = data["cameras"][:2]
    second["address"] = address
    assert first["address"] == "127.0.1.1"
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@pytest.mark.parametrize("address", ["127.0.1.1", "127.0.1.01", "127.000.001.001"])
def test_one_camera_cannot_be_registered_under_two_spellings(address):
    with pytest.raises(ConfigError) as caught:
        parse_config(_with_second_camera_at(address), "dup.yaml")
    messages = " ".join(str(i) for i in caught.value.issues)
    assert "cameras[1].address" in messages


def test_same_host_name_in_two_cases_is_one_camera():
    data = yaml.safe_load(MINIMAL_TEXT)
    data["cameras"][0]["address"] = "cam.example"
    data["cameras"][1]["address"] = "CAM.Example."
    with pytest.raises(ConfigError, match=r"cameras\[1\]\.address: duplicate camera address"):
        parse_config(yaml.safe_dump(data, allow_unicode=True), "case.yaml")


CONTROLS = ["\x00", "\x07", "\x1b[31m", "\x7f", "\x9b", "\r", "\n", "\t"]


@pytest.mark.parametrize("char", CONTROLS, ids=[repr(c) for c in CONTROLS])
@pytest.mark.parametrize("path", [("cameras", 0, "name"), ("sites", 0, "name"),
                                  ("users", 0, "name")])
def test_control_characters_are_refused_in_every_string_naming_the_path(char, path):
    data = yaml.safe_load(MINIMAL_TEXT)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = f"名前{char}x"
    with pytest.raises(ConfigError) as caught:
        parse_config(yaml.safe_dump(data, allow_unicode=True), "ctl.yaml")
    (issue,) = caught.value.issues
    assert issue.path == f"{path[0]}[{path[1]}].{path[2]}"
    assert "control characters" in issue.message and issue.line


def test_control_character_in_a_key_is_refused():
    text = MINIMAL_TEXT + '"bad\\u0000key": 1\n'
    with pytest.raises(ConfigError, match="control characters"):
        parse_config(text, "key.yaml")


def test_nul_in_a_name_never_reaches_the_database(tmp_path, monkeypatch, capsys):
    db = tmp_path / "db.sqlite"
    monkeypatch.setenv("CAMERAHUB_DATABASE_URL", f"sqlite:///{db}")
    data = yaml.safe_load(MINIMAL_TEXT)
    data["cameras"][0]["name"] = "戸籍\x00カメラ"
    bad = tmp_path / "nul.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["deploy", "apply", "-f", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cameras[0].name" in err and "Traceback" not in err


def test_examples_have_no_control_characters_and_load():
    for name in ("minimal.yaml", "nakano.yaml"):
        text = (ROOT / "deploy" / "examples" / name).read_text(encoding="utf-8")
        parse_config(text, name)
