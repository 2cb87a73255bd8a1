"""Bounded YAML: size, nesting depth, alias count and node count are checked on the event stream
before anything is constructed (an alias bomb never expands), duplicate keys are errors.

Errors are ``YamlProblem(where, reason)``; callers render them as ``file:where: reason``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_ALIASES = 64
MAX_NODES = 200_000


class YamlProblem(Exception):
    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where, self.reason = where, reason


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:
                    duplicate = False
                if duplicate:
                    raise YamlProblem(f"line {key_node.start_mark.line + 1}", f"duplicate key {key!r}")
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _line(event: Any) -> str:
    mark = getattr(event, "start_mark", None)
    return f"line {mark.line + 1}" if mark is not None else "<yaml>"


def load(text: str) -> Any:
    """Parse one YAML document within the bounds; raise YamlProblem on any problem."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_BYTES:
        raise YamlProblem("<file>", f"too large: {size} bytes (limit {MAX_BYTES})")
    depth = aliases = nodes = documents = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise YamlProblem(_line(event), "more than one YAML document")
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
                nodes += 1
                if depth > MAX_DEPTH:
                    raise YamlProblem(_line(event), f"nested deeper than {MAX_DEPTH} levels")
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
            elif isinstance(event, yaml.AliasEvent):
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise YamlProblem(_line(event), f"more than {MAX_ALIASES} YAML aliases (alias bomb?)")
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
            if nodes > MAX_NODES:
                raise YamlProblem(_line(event), f"more than {MAX_NODES} YAML nodes")
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except YamlProblem:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<yaml>"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlProblem(where, f"invalid YAML: {problem}") from None
    except (ValueError, TypeError, RecursionError, OverflowError) as exc:
        raise YamlProblem("<yaml>", f"invalid YAML: {type(exc).__name__}: {str(exc)[:200]}") from None


def read_text(path: Path, what: str) -> str:
    """The text of the ``what`` file at ``path``; raise YamlProblem at ``<file>`` when it cannot be read."""
    try:
        if path.is_dir():
            raise YamlProblem("<file>", f"cannot read: is a directory, not a {what} file")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise YamlProblem("<file>", f"no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlProblem("<file>", f"cannot read: {exc}") from None


def read(path: Path, what: str) -> Any:
    """Read and parse the ``what`` file at ``path`` within the bounds; raise YamlProblem on any problem."""
    return load(read_text(path, what))
