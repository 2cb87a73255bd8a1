"""The bad-input corpus: environment, waiver, attestation and command-line inputs an attacker or a
careless user could give. Each has its expected exit code and message; none may end in a traceback,
a hang, or a PROCEED. In-process cases check ``file:key: reason``; the CLI cases run the real
commands in a subprocess (bounded by a timeout) and check exit code, message and no traceback."""

from __future__ import annotations

import copy
import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova_gate.catalog import load_catalog
from nova_gate.config import ConfigError, load_environment
from nova_gate.policy import PolicyError, load_attestations, load_waivers

ROOT = Path(__file__).resolve().parents[2]
SANDBOX: dict[str, Any] = yaml.safe_load((ROOT / "environments" / "sandbox.yaml").read_text())
IDS = load_catalog().ids
TOMORROW = (dt.date.today() + dt.timedelta(days=1)).isoformat()


def _set(**changes: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Change dotted keys (``thresholds__p95_ms`` style: ``__`` separates levels)."""

    def apply(doc: dict[str, Any]) -> dict[str, Any]:
        for dotted, value in changes.items():
            node = doc
            keys = dotted.split("__")
            for key in keys[:-1]:
                node = node.setdefault(key, {}) if isinstance(node, dict) else node[int(key)]
            if isinstance(node, list):
                node[int(keys[-1])] = value
            else:
                node[keys[-1]] = value
        return doc

    return apply


def _prod(doc: dict[str, Any]) -> dict[str, Any]:
    doc["name"] = "prod"
    return doc


def _remote(doc: dict[str, Any]) -> dict[str, Any]:
    doc["backends"]["postgres"]["host"] = "db.prod.internal"
    return doc


def _alias_bomb(levels: int = 12) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def _cases(path: Path) -> dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str, str]]:
    """The data cases (bad_environments.yaml): dotted keys to set, expected key and message."""
    raw: dict[str, dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        name: (_set(**{k.replace(".", "__"): v for k, v in case["set"].items()}), case["key"], case["message"])
        for name, case in raw.items()
    }


# name: (change of the sandbox document, expected key, expected message fragment)
ENV_CASES: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], str, str]] = {
    **_cases(Path(__file__).with_name("bad_environments.yaml")),
    "secret-default-prod": (
        lambda d: _prod(_set(backends__vault__token="${NOVA_GATE_SURELY_UNSET_1:-root}")(d)),
        "backends",
        "only allowed in the local sandbox",
    ),
    "secret-default-remote-sandbox": (
        lambda d: _remote(_set(backends__postgres__password="${NOVA_GATE_SURELY_UNSET_2:-pw}")(d)),
        "backends",
        "only allowed in the local sandbox",
    ),
    "unset-variable": (_set(backends__postgres__password="${NOVA_GATE_SURELY_UNSET_3}"), "password", "not set"),
    "partial-reference": (_set(backends__redis__url="redis://${HOST}:1/0"), "backends.redis.url", "whole value"),
}

# name: (raw file text, expected key, expected message fragment)
RAW_CASES: dict[str, tuple[str | bytes, str, str]] = {
    "alias-bomb": (_alias_bomb(), "line", "alias"),
    "deep-nesting": ("a: " + "[" * 200 + "]" * 200 + "\n", "line", "deeper"),
    "too-large": ("# " + "x" * (1024 * 1024 + 10) + "\n", "<file>", "too large"),
    "duplicate-key": ("name: sandbox\nname: prod\n", "line 2", "duplicate key"),
    "two-documents": ("name: a\n---\nname: b\n", "line", "more than one"),
    "empty": ("", "<root>", "mapping"),
    "list-root": ("- a\n- b\n", "<root>", "mapping"),
    "unclosed": ("release: [unclosed\n", "line", "invalid YAML"),
    "tab-indent": ("release:\n\tversion: v1\n", "line", "invalid YAML"),
    "python-tag": ("name: !!python/object/apply:os.system ['id']\n", "line", "invalid YAML"),
    "not-utf8": (b"name: \xff\xfe\x00bad\n", "<file>", "cannot read"),
    "unhashable-key": ("? [a, b]\n: c\n", "line", "invalid YAML"),
}


def _env_file(tmp_path: Path, doc_or_text: dict[str, Any] | str | bytes) -> Path:
    path = tmp_path / "env.yaml"
    if isinstance(doc_or_text, bytes):
        path.write_bytes(doc_or_text)
    elif isinstance(doc_or_text, str):
        path.write_text(doc_or_text)
    else:
        path.write_text(yaml.safe_dump(doc_or_text, allow_unicode=True))
    return path


@pytest.mark.parametrize("case", sorted(ENV_CASES))
def test_bad_environment(case, tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("NOVA_GATE_") and name.endswith(("PASSWORD", "TOKEN", "SECRET")):
            monkeypatch.delenv(name)
    change, key, message = ENV_CASES[case]
    path = _env_file(tmp_path, change(copy.deepcopy(SANDBOX)))
    with pytest.raises(ConfigError) as err:
        load_environment(str(path))
    text = str(err.value)
    assert text.startswith(f"{path}:"), text
    assert key in err.value.key and message in err.value.reason, text
    assert "\n" not in text


@pytest.mark.parametrize("case", sorted(RAW_CASES))
def test_bad_environment_text(case, tmp_path):
    raw, key, message = RAW_CASES[case]
    path = _env_file(tmp_path, raw)
    with pytest.raises(ConfigError) as err:
        load_environment(str(path))
    assert key in err.value.key and message in err.value.reason, str(err.value)


def test_missing_and_directory_environment(tmp_path):
    with pytest.raises(ConfigError, match="no such environment file"):
        load_environment(str(tmp_path / "nope.yaml"))
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load_environment(str(tmp_path / "dir.yaml"))


@pytest.mark.parametrize("flag", ["release_version", "baseline_version"])
@pytest.mark.parametrize("value", ["--upload-pack=touch /tmp/x", "v1/../../x", "v1\nDECISION: PROCEED", ""])
def test_bad_version_options(flag, value):
    if value == "":
        return  # an empty option means "not given"
    with pytest.raises(ConfigError, match="invalid version"):
        load_environment("sandbox", **{flag: value})


def test_unsafe_thresholds_are_accepted_only_with_a_reason_and_recorded(tmp_path):
    doc = _set(thresholds__error_rate_pct=100, allow_unsafe_thresholds="INC-42: error metric broken, see ticket")(
        copy.deepcopy(SANDBOX)
    )
    loaded = load_environment(str(_env_file(tmp_path, doc)))
    assert loaded.unsafe and "thresholds.error_rate_pct" in loaded.unsafe[0]


# --------------------------------------------------------------------------------------------
# Waivers and attestations
# --------------------------------------------------------------------------------------------
GOOD_WAIVER = {"item": "PRE-DOC-1", "justification": "notes on the wiki", "approver": "jane.doe", "expires": TOMORROW}
WAIVER_CASES: dict[str, tuple[Any, str, str]] = {
    "expired": ([{**GOOD_WAIVER, "expires": "2020-01-01"}], "waivers[0].expires", "expired"),
    "until-2999": ([{**GOOD_WAIVER, "expires": "2999-01-01"}], "waivers[0].expires", "more than 14 days"),
    "approver-me": ([{**GOOD_WAIVER, "approver": "me"}], "waivers[0].approver", "may not approve"),
    "approver-newline": ([{**GOOD_WAIVER, "approver": "jane\nDECISION: PROCEED"}], "approver", "control"),
    "approver-markup": ([{**GOOD_WAIVER, "approver": "<img src=x>"}], "waivers[0].approver", "not a name"),
    "unknown-item": ([{**GOOD_WAIVER, "item": "PRE-XYZ-9"}], "waivers[0].item", "unknown checklist item"),
    "wildcard-item": ([{**GOOD_WAIVER, "item": "*"}], "waivers[0].item", "unknown checklist item"),
    "test-not-nodeid": ([{k: v for k, v in GOOD_WAIVER.items() if k != "item"} | {"test": "x"}], "test", "node id"),
    "no-justification": ([{k: v for k, v in GOOD_WAIVER.items() if k != "justification"}], "justification", "required"),
    "short-justification": ([{**GOOD_WAIVER, "justification": "x"}], "justification", "too short"),
    "item-and-test": ([{**GOOD_WAIVER, "test": "checks/a.py::t"}], "waivers[0]", "exactly one"),
    "no-target": ([{k: v for k, v in GOOD_WAIVER.items() if k != "item"}], "waivers[0]", "exactly one"),
    "unknown-key": ([{**GOOD_WAIVER, "scope": "all"}], "waivers[0].scope", "unknown key"),
    "twice": ([GOOD_WAIVER, GOOD_WAIVER], "waivers[1].item", "waived twice"),
    "not-a-list": ({"waivers": {"item": "PRE-DOC-1"}}, "waivers", "expected a list"),
    "other-top-key": ({"waiverz": []}, "waiverz", "unknown key"),
    "entry-not-mapping": (["PRE-DOC-1"], "waivers[0]", "expected a mapping"),
    "expires-words": ([{**GOOD_WAIVER, "expires": "tomorrow"}], "expires", "not an ISO date"),
    "expires-number": ([{**GOOD_WAIVER, "expires": 20991231}], "expires", "not a date"),
}


@pytest.mark.parametrize("case", sorted(WAIVER_CASES))
def test_bad_waivers(case, tmp_path):
    doc, key, message = WAIVER_CASES[case]
    path = tmp_path / "waivers.yaml"
    path.write_text(yaml.safe_dump(doc if isinstance(doc, dict) else {"waivers": doc}))
    with pytest.raises(PolicyError) as err:
        load_waivers(path, known_items=IDS, approvers=["jane.doe"], max_days=14)
    text = str(err.value)
    assert text.startswith(f"{path}:") and key in text and message in text, text


def test_waiver_alias_bomb_and_directory(tmp_path):
    path = tmp_path / "w.yaml"
    path.write_text(_alias_bomb())
    with pytest.raises(PolicyError, match="alias"):
        load_waivers(path)
    with pytest.raises(PolicyError, match="directory"):
        load_waivers(tmp_path)


GOOD_ATTESTATION = {"item": "PRE-DOC-2", "by": "jane.doe", "at": dt.datetime.now(dt.UTC).isoformat(), "note": "ok"}
ATTESTATION_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "unknown-item": ({**GOOD_ATTESTATION, "item": "NOPE-1"}, "item", "unknown checklist item"),
    "future": ({**GOOD_ATTESTATION, "at": "2999-01-01T00:00:00+00:00"}, "at", "in the future"),
    "by-newline": ({**GOOD_ATTESTATION, "by": "x\nDECISION: PROCEED"}, "by", "control"),
    "by-markup": ({**GOOD_ATTESTATION, "by": "<script>"}, "by", "not a name"),
    "unknown-key": ({**GOOD_ATTESTATION, "signature": "x"}, "signature", "unknown key"),
    "no-note": ({k: v for k, v in GOOD_ATTESTATION.items() if k != "note"}, "note", "required"),
    "version-traversal": ({**GOOD_ATTESTATION, "version": "../../x"}, "version", "not a version"),
    "at-words": ({**GOOD_ATTESTATION, "at": "yesterday"}, "at", "not an ISO"),
}


@pytest.mark.parametrize("case", sorted(ATTESTATION_CASES))
def test_bad_attestations(case, tmp_path):
    entry, key, message = ATTESTATION_CASES[case]
    path = tmp_path / "attestations.yaml"
    path.write_text(yaml.safe_dump({"attestations": [entry]}))
    with pytest.raises(PolicyError) as err:
        load_attestations(path, known_items=IDS)
    assert key in str(err.value) and message in str(err.value), str(err.value)


# --------------------------------------------------------------------------------------------
# The real commands: exit code, one-line message, no traceback, no hang, never PROCEED
# --------------------------------------------------------------------------------------------
def _waive_everything(tmp_path: Path) -> Path:
    path = tmp_path / "waive-all.yaml"
    entries = [
        {"item": i.id, "justification": "ship it, trust me", "approver": "me", "expires": "2999-12-31"}
        for i in load_catalog().in_phase("preflight")
    ]
    path.write_text(yaml.safe_dump({"waivers": entries}))
    return path


def _env_with(tmp_path: Path, **changes: Any) -> str:
    doc = _set(**changes)(copy.deepcopy(SANDBOX))
    path = tmp_path / "cli-env.yaml"
    path.write_text(yaml.safe_dump(doc))
    return f"--env={path}"


PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--co"]
NOVA = [sys.executable, "-m", "nova_gate.cli"]
CLI_CASES: dict[str, tuple[Callable[[Path], list[str]], int, str]] = {
    "pytest-error-limit-100": (
        lambda t: [*PYTEST, "-m", "canary_gate", _env_with(t, thresholds__error_rate_pct=100)],
        2,
        "never be exceeded",
    ),
    "pytest-alias-bomb": (
        lambda t: [*PYTEST, f"--env={(t / 'bomb.yaml').write_text(_alias_bomb(20)) and t / 'bomb.yaml'}"],
        2,
        "alias",
    ),
    "pytest-version-option": (lambda t: [*PYTEST, "--release-version=--output=/tmp/pwn"], 2, "invalid version"),
    "pytest-version-traversal": (lambda t: [*PYTEST, "--release-version=v1/../../x"], 2, "invalid version"),
    "pytest-version-newline": (lambda t: [*PYTEST, "--release-version=v1\nDECISION: PROCEED"], 2, "invalid version"),
    "pytest-operator-markup": (lambda t: [*PYTEST, "--operator=<script>alert(1)</script>"], 2, "not a name"),
    "pytest-release-sha": (lambda t: [*PYTEST, "--release-sha=HEAD; rm -rf /"], 2, "not a git sha"),
    "pytest-unknown-item": (lambda t: [*PYTEST, "--item=NOPE-1"], 2, "unknown checklist item"),
    "pytest-waive-everything": (
        lambda t: [*PYTEST, "-m", "preflight", f"--waivers={_waive_everything(t)}"],
        2,
        "more than 14 days",
    ),
    "pytest-missing-env": (lambda t: [*PYTEST, f"--env={t / 'nope.yaml'}"], 2, "no such environment file"),
    "run-unknown-phase": (lambda t: [*NOVA, "run", "../../etc"], 2, "unknown phase"),
    "attest-unknown-item": (lambda t: [*NOVA, "attest", "NOPE-1", "--by", "jane", "--note", "x"], 2, "unknown"),
    "attest-by-newline": (
        lambda t: [*NOVA, "attest", "PRE-DOC-2", "--by", "x\nDECISION: PROCEED", "--note", "x", "--file", str(t / "a")],
        2,
        "not a name",
    ),
    "attest-version-option": (
        lambda t: [*NOVA, "attest", "PRE-DOC-2", "--by", "j", "--note", "n", "--version=--x", "--file", str(t / "a")],
        2,
        "invalid version",
    ),
    "verify-missing": (lambda t: [*NOVA, "verify", str(t / "nothing.json")], 1, "cannot read"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_bad_command_line(case, tmp_path):
    make, code, message = CLI_CASES[case]
    argv = make(tmp_path)
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False, env={**os.environ})
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out[-2000:]
    assert message in out, out[-2000:]
    assert "Traceback" not in out
    assert not any(line.startswith("DECISION: PROCEED") for line in out.splitlines())


def test_corpus_size():
    size = len(ENV_CASES) + len(RAW_CASES) + 2 + 6 + len(WAIVER_CASES) + 2 + len(ATTESTATION_CASES) + len(CLI_CASES)
    print(f"bad-input corpus: {size} inputs")
    assert size >= 60
