"""Load the deployment YAML into a Config, with errors that name file, path and line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .model import Config, CrossReferenceError

MAX_CONFIG_BYTES = 8 * 1024 * 1024
# A file's shape is bounded before anything is built from it: aliases may not expand it past
# MAX_NODES values ("billion laughs"), nor may it nest deeper than MAX_DEPTH (the YAML composer
# and the checks below recurse). The 100-camera example has about 4,000 values and depth 7.
MAX_NODES = 250_000
MAX_DEPTH = 40
# C0 and C1 control characters and DEL: never meaningful in a name, id or address, and a NUL
# is refused by PostgreSQL mid-transaction.
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Keys that would hold a secret inline; the file may only say where a secret lives.
INLINE_SECRET_KEYS = {"password", "passwd", "secret", "secret_key", "access_key", "api_key",
                      "token", "private_key", "signing_key"}

PathT = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file."""

    file: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """The configuration is invalid; `issues` lists every problem found."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def format_path(path: PathT) -> str:
    """('cameras', 12, 'room') -> 'cameras[12].room'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (YAML silently keeps the last one)."""


def _line_map(node: yaml.Node, path: PathT, lines: dict[PathT, int], dups: list) -> None:
    """Record the 1-based line of every path in the node tree; note duplicate keys."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                dups.append((path + (key,), key_node.start_mark.line + 1))
            seen.add(key)
            _line_map(value_node, path + (key,), lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, path + (i,), lines, dups)


def _line_for(lines: dict[PathT, int], path: PathT) -> int | None:
    """The line of the longest prefix of path that the file contains."""
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def _read(path: Path) -> str:
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError([ConfigIssue(name, "", None, f"file is {size} bytes; the limit is "
                                           f"{MAX_CONFIG_BYTES}")])
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue(name, "", None, "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue(name, "", None, f"not UTF-8 text ({exc.reason})")]) from None
    except OSError as exc:
        raise ConfigError([ConfigIssue(name, "", None, exc.strerror or str(exc))]) from None


class _Shape:
    """Counts the values a YAML event stream expands to, aliases included, and its depth."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.total = 0
        self.open: list[list] = []  # [anchor, expanded size so far] per open collection
        self.sizes: dict[str, int] = {}  # anchor -> expanded size of what it names

    def feed(self, event: yaml.Event) -> None:
        """Account for one parser event; ConfigError once a bound is crossed."""
        if isinstance(event, yaml.CollectionStartEvent):
            if len(self.open) >= MAX_DEPTH:
                self._refuse(event, f"is nested deeper than {MAX_DEPTH} levels")
            self.open.append([event.anchor, 0])
            self._add(event, 1)
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, size = self.open.pop()
            if anchor:
                self.sizes[anchor] = size + 1
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                self.sizes[event.anchor] = 1
            self._add(event, 1)
        elif isinstance(event, yaml.AliasEvent):
            if any(frame[0] == event.anchor for frame in self.open):
                self._refuse(event, f"has an alias *{event.anchor} inside what it names")
            self._add(event, self.sizes.get(event.anchor, 1))

    def _add(self, event: yaml.Event, count: int) -> None:
        self.total += count
        for frame in self.open[:-1] if isinstance(event, yaml.CollectionStartEvent) \
                else self.open:
            frame[1] += count
        if self.total > MAX_NODES:
            self._refuse(event, f"expands to more than {MAX_NODES} values (aliases included)")

    def _refuse(self, event: yaml.Event, why: str) -> None:
        line = event.start_mark.line + 1 if event.start_mark else None
        raise ConfigError([ConfigIssue(self.name, "", line, f"file refused: it {why}")])


def _check_shape(text: str, name: str) -> None:
    """Refuse alias bombs and deep nesting from the event stream, before composing."""
    shape = _Shape(name)
    for event in yaml.parse(text, Loader=_LineLoader):
        shape.feed(event)


def _parse(text: str, name: str) -> tuple[Any, dict[PathT, int]]:
    try:
        _check_shape(text, name)
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue(name, "", line, f"YAML syntax error: {reason}")]) from None
    if node is None or data is None:
        raise ConfigError([ConfigIssue(name, "", None, "file is empty")])
    lines: dict[PathT, int] = {}
    dups: list = []
    _line_map(node, (), lines, dups)
    if dups:
        raise ConfigError([ConfigIssue(name, format_path(p), ln, "duplicate key")
                           for p, ln in dups])
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue(name, "", 1, "top level must be a mapping of sections")])
    return data, lines


def _inline_secrets(data: Any, path: PathT = ()) -> list[PathT]:
    """Paths of keys that carry a secret inline."""
    found: list[PathT] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).lower() in INLINE_SECRET_KEYS:
                found.append(path + (str(key),))
            else:
                found.extend(_inline_secrets(value, path + (str(key),)))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found.extend(_inline_secrets(item, path + (i,)))
    return found


def _control_characters(data: Any, path: PathT = ()) -> list[PathT]:
    """Paths of keys and string values that carry a control character."""
    found: list[PathT] = []
    if isinstance(data, dict):
        for key, value in data.items():
            here = path + (str(key),)
            if isinstance(key, str) and CONTROL_CHARS.search(key):
                found.append(here)
            found.extend(_control_characters(value, here))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            found.extend(_control_characters(item, path + (i,)))
    elif isinstance(data, str) and CONTROL_CHARS.search(data):
        found.append(path)
    return found


def _validation_issues(exc: ValidationError, name: str,
                       lines: dict[PathT, int]) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    for err in exc.errors():
        cause = (err.get("ctx") or {}).get("error")
        loc = tuple(p for p in err["loc"] if isinstance(p, int) or "[" not in str(p))
        if isinstance(cause, CrossReferenceError):
            issues += [ConfigIssue(name, format_path(loc + p), _line_for(lines, loc + p), m)
                       for p, m in cause.problems]
            continue
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        issues.append(ConfigIssue(name, format_path(loc), _line_for(lines, loc), msg))
    return issues


def _refuse(name: str, lines: dict[PathT, int], paths: list[PathT], message: str) -> None:
    """ConfigError naming every path found, with its line, if there is any."""
    if paths:
        raise ConfigError([ConfigIssue(name, format_path(p), _line_for(lines, p), message)
                           for p in paths])


def parse_config(text: str, name: str = "<config>") -> Config:
    """Validate YAML text into a Config or raise ConfigError listing every issue."""
    data, lines = _parse(text, name)
    _refuse(name, lines, _inline_secrets(data),
            "inline secrets are not allowed; use password_env or password_file")
    _refuse(name, lines, _control_characters(data),
            "control characters (such as NUL or ESC) are not allowed")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_validation_issues(exc, name, lines)) from None


def load_config(path: str | Path) -> Config:
    """Read and validate the deployment file at path."""
    path = Path(path)
    return parse_config(_read(path), str(path))
