"""Waivers (a reviewed, expiring exception for a failing item) and attestations (a person signs).

Both are YAML lists; a malformed or expired waiver is an error that stops the run (exit 2): a
release must not proceed on a waiver nobody can vouch for.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from nova_gate import safeyaml

#: a person's or bot's name as it appears in the record (no markup, no line breaks)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+ -]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]")
MAX_TEXT = 2000


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
        raw = safeyaml.read(path, what)
    except safeyaml.YamlProblem as exc:
        raise PolicyError(f"{path}:{exc.where}: {exc.reason}") from None
    if raw is None:
        return []
    if isinstance(raw, dict):
        unknown = sorted(str(k) for k in raw if k != what)
        if unknown:
            raise PolicyError(f"{path}:{unknown[0]}: unknown key (expected a list under {what!r})")
        raw = raw.get(what)
        if raw is None:
            return []
    if not isinstance(raw, list):
        raise PolicyError(f"{path}:{what}: expected a list of {what}")
    return raw


def _entries(path: Path, what: str, keys: set[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file:what[i], entry)`` for each entry of the list; an entry must be a mapping of known keys."""
    for index, entry in enumerate(_load_list(path, what)):
        where = f"{path}:{what}[{index}]"
        if not isinstance(entry, dict):
            raise PolicyError(f"{where}: expected a mapping")
        unknown = set(map(str, entry)) - keys
        if unknown:
            raise PolicyError(f"{where}.{sorted(unknown)[0]}: unknown key")
        yield where, entry


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
    if _CONTROL.search(value.strip()):
        raise PolicyError(f"{where}.{key}: control characters or line breaks are not allowed")
    if len(value) > MAX_TEXT:
        raise PolicyError(f"{where}.{key}: longer than {MAX_TEXT} characters")
    return value.strip()


def _name(entry: dict[str, Any], key: str, where: str) -> str:
    value = _text(entry, key, where)
    if not _NAME.match(value):
        raise PolicyError(f"{where}.{key}: {value!r} is not a name (letters, digits, . _ @ + - and spaces)")
    return value


def check_name(value: str, what: str) -> str:
    """A person's name for the record (``--by``, ``--operator``); raise PolicyError if unsafe."""
    if not _NAME.match(value or ""):
        raise PolicyError(f"{what}: {value!r} is not a name (letters, digits, . _ @ + - and spaces, at most 64)")
    return value


def check_note(value: str, what: str) -> str:
    if not value.strip() or _CONTROL.search(value) or len(value) > MAX_TEXT:
        raise PolicyError(f"{what}: required, one line of at most {MAX_TEXT} characters")
    return value.strip()


def load_waivers(
    path: Path,
    now: dt.datetime | None = None,
    *,
    known_items: Collection[str] | None = None,
    approvers: Collection[str] | None = None,
    max_days: float | None = None,
) -> list[Waiver]:
    """Read a waivers file; every entry needs item/test, justification, approver, future expiry.

    With a policy: the item must exist, the approver must be one of ``approvers`` and the expiry
    at most ``max_days`` ahead; the same target waived twice is an error.
    """
    now = now or dt.datetime.now(dt.UTC)
    waivers: list[Waiver] = []
    for where, entry in _entries(path, "waivers", {"item", "test", "justification", "approver", "expires"}):
        targets = [k for k in ("item", "test") if entry.get(k)]
        if len(targets) != 1:
            raise PolicyError(f"{where}: give exactly one of item or test")
        target = _text(entry, targets[0], where)
        if targets[0] == "item" and known_items is not None and target not in known_items:
            raise PolicyError(f"{where}.item: unknown checklist item {target!r}")
        if targets[0] == "test" and known_items is not None and "::" not in target:
            raise PolicyError(f"{where}.test: {target!r} is not a test node id (path::name)")
        expires = _time(entry.get("expires"), f"{where}.expires")
        if expires <= now:
            raise PolicyError(f"{where}.expires: waiver expired on {expires.isoformat()}")
        if max_days is not None and expires - now > dt.timedelta(days=max_days):
            raise PolicyError(
                f"{where}.expires: {expires.date()} is more than {max_days:g} days ahead "
                "(policy.waiver_max_days); waivers must be reviewed again"
            )
        justification = _text(entry, "justification", where)
        if len(justification) < 10:
            raise PolicyError(f"{where}.justification: too short to review (at least 10 characters)")
        approver = _name(entry, "approver", where)
        if approvers is not None and approver not in approvers:
            allowed = ", ".join(sorted(approvers)) or "none configured (policy.approvers)"
            raise PolicyError(f"{where}.approver: {approver!r} may not approve waivers (allowed: {allowed})")
        if any(w.target == target for w in waivers):
            raise PolicyError(f"{where}.{targets[0]}: {target!r} is waived twice")
        waivers.append(Waiver(target, justification, approver, expires))
    return waivers


def load_attestations(path: Path, known_items: Collection[str] | None = None) -> list[Attestation]:
    """Read an attestations file; a missing file means nobody has signed anything yet."""
    if not path.exists():
        return []
    out = []
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    for where, entry in _entries(path, "attestations", {"item", "by", "at", "note", "version"}):
        version = entry.get("version")
        item = _text(entry, "item", where)
        if known_items is not None and item not in known_items:
            raise PolicyError(f"{where}.item: unknown checklist item {item!r}")
        if version is not None and not re.match(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$", str(version)):
            raise PolicyError(f"{where}.version: {version!r} is not a version")
        at = _time(entry.get("at"), f"{where}.at")
        if at > soon:
            raise PolicyError(f"{where}.at: {at.isoformat()} is in the future")
        out.append(
            Attestation(
                item=item,
                by=_name(entry, "by", where),
                at=at,
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


class AttestError(Exception):
    """An attestation that cannot be recorded (unknown item, no attestations file configured)."""


def attest(
    item_id: str,
    by: str,
    note: str,
    *,
    env: str | None = None,
    file: str | Path | None = None,
    version: str | None = None,
) -> Path:
    """Record that ``by`` signed a human checklist item; return the attestations file.

    Raises AttestError, PolicyError (a bad name or note) or ConfigError (a bad environment).
    """
    from nova_gate.catalog import load_catalog
    from nova_gate.config import check_identifier, load_environment

    if item_id not in load_catalog():
        raise AttestError(f"unknown checklist item {item_id!r}")
    check_name(by, "--by")
    note = check_note(note, "--note")
    if version is not None:
        try:
            check_identifier(version, "version")
        except ValueError as exc:
            raise AttestError(str(exc)) from None
    loaded = load_environment(env)
    path = file or loaded.env.files.attestations
    if path is None:
        raise AttestError(f"{loaded.path}:files.attestations: not set")
    append_attestation(
        Path(path),
        Attestation(
            item=item_id,
            by=by,
            note=note,
            at=dt.datetime.now(dt.UTC),
            version=version or loaded.env.release.version,
        ),
    )
    return Path(path)
