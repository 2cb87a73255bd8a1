"""Waivers (a reviewed, expiring exception for a failing item) and attestations (a person signs).

Both are YAML lists; a malformed or expired waiver is an error that stops the run (exit 2): a
release must not proceed on a waiver nobody can vouch for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class PolicyError(Exception):
    """A waiver or attestation file problem, rendered as ``file:key: reason``."""


@dataclass(frozen=True)
class Waiver:
    target: str  # an item id ("PD-4") or a test node id
    justification: str
    approver: str
    expires: dt.datetime

    def covers(self, item_ids: list[str], nodeid: str) -> bool:
        return self.target == nodeid or self.target in item_ids

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "justification": self.justification,
            "approver": self.approver,
            "expires": self.expires.isoformat(),
        }


@dataclass(frozen=True)
class Attestation:
    item: str
    by: str
    at: dt.datetime
    note: str
    version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "by": self.by,
            "at": self.at.isoformat(),
            "note": self.note,
            "version": self.version,
        }


def _load_list(path: Path, what: str) -> list[Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{path}:<file>: no such {what} file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}:<file>: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "<yaml>"
        raise PolicyError(f"{path}:{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if raw is None:
        return []
    if isinstance(raw, dict) and what in raw:
        raw = raw[what]
    if not isinstance(raw, list):
        raise PolicyError(f"{path}:{what}: expected a list of {what}")
    return raw


def _time(value: Any, where: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        stamp = value
    elif isinstance(value, dt.date):
        stamp = dt.datetime.combine(value, dt.time(23, 59, 59))
    elif isinstance(value, str):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            raise PolicyError(f"{where}: not an ISO date or time: {value!r}") from None
    else:
        raise PolicyError(f"{where}: missing or not a date")
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where}.{key}: required, a non-empty text")
    return value.strip()


def load_waivers(path: Path, now: dt.datetime | None = None) -> list[Waiver]:
    """Read a waivers file; every entry needs item/test, justification, approver, future expiry."""
    now = now or dt.datetime.now(dt.UTC)
    waivers = []
    for index, entry in enumerate(_load_list(path, "waivers")):
        where = f"{path}:waivers[{index}]"
        if not isinstance(entry, dict):
            raise PolicyError(f"{where}: expected a mapping")
        unknown = set(entry) - {"item", "test", "justification", "approver", "expires"}
        if unknown:
            raise PolicyError(f"{where}.{sorted(unknown)[0]}: unknown key")
        targets = [k for k in ("item", "test") if entry.get(k)]
        if len(targets) != 1:
            raise PolicyError(f"{where}: give exactly one of item or test")
        target = _text(entry, targets[0], where)
        expires = _time(entry.get("expires"), f"{where}.expires")
        if expires <= now:
            raise PolicyError(f"{where}.expires: waiver expired on {expires.isoformat()}")
        waivers.append(Waiver(target, _text(entry, "justification", where), _text(entry, "approver", where), expires))
    return waivers


def load_attestations(path: Path) -> list[Attestation]:
    """Read an attestations file; a missing file means nobody has signed anything yet."""
    if not path.exists():
        return []
    out = []
    for index, entry in enumerate(_load_list(path, "attestations")):
        where = f"{path}:attestations[{index}]"
        if not isinstance(entry, dict):
            raise PolicyError(f"{where}: expected a mapping")
        version = entry.get("version")
        out.append(
            Attestation(
                item=_text(entry, "item", where),
                by=_text(entry, "by", where),
                at=_time(entry.get("at"), f"{where}.at"),
                note=_text(entry, "note", where),
                version=str(version) if version is not None else None,
            )
        )
    return out


def append_attestation(path: Path, attestation: Attestation) -> None:
    existing = [a.as_dict() for a in load_attestations(path)]
    existing.append(attestation.as_dict())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(yaml.safe_dump({"attestations": existing}, sort_keys=False), encoding="utf-8")
    tmp.replace(path)
