"""Verdicts from the release's own tools: exit status, and for test runs, that tests ran."""

from __future__ import annotations

import re
from typing import Any

from nova_gate.verdict import Verdict, failed, inconclusive, passed

_RESULT = re.compile(r"test result: (\w+)\. (\d+) passed; (\d+) failed")
_UNRECOGNISED_SUBCOMMAND = ("no such command", "no such subcommand")


def _observed(result: Any) -> dict[str, Any]:
    return {
        "command": " ".join(result.argv),
        "exit": result.exit_code,
        "seconds": result.seconds,
        "output_tail": result.output_tail[-2000:],
    }


def tests_passed(result: Any, what: str) -> Verdict:
    """PRE-CQ-1/2: the command exits 0 and ran at least one test, none failing."""
    runs = [(int(p), int(f)) for _, p, f in _RESULT.findall(result.output_tail)]
    passed_n = sum(p for p, _ in runs)
    failed_n = sum(f for _, f in runs)
    observed = {**_observed(result), "passed": passed_n, "failed": failed_n}
    if result.exit_code != 0:
        first = next(
            (line for line in result.output_tail.splitlines() if "FAILED" in line or "error" in line),
            f"exit {result.exit_code}",
        )
        return failed(f"{what}: {failed_n} failed ({first.strip()[:120]})", observed, "exit 0, no failed test")
    if passed_n == 0:
        return inconclusive(f"{what}: no test ran", observed, ">= 1 test passed")
    return passed(f"{what}: {passed_n} passed", observed, "exit 0, no failed test")


def command_clean(result: Any, what: str) -> Verdict:
    """PRE-CQ-3/4/5: the tool exits 0; its complaints are the evidence otherwise."""
    observed = _observed(result)
    if any(m in result.output_tail.lower() for m in _UNRECOGNISED_SUBCOMMAND):
        return failed(
            f"{what}: the tool is not installed ({result.output_tail.splitlines()[-1][:100]})",
            observed,
            "exit 0",
        )
    if result.exit_code != 0:
        lines = [ln.strip() for ln in result.output_tail.splitlines() if ln.strip()]
        first = next(
            (ln for ln in lines if ln.startswith(("error", "warning", "Diff", "Crate:", "ID:"))),
            lines[0] if lines else f"exit {result.exit_code}",
        )
        return failed(f"{what}: {first[:160]}", observed, "exit 0")
    return passed(f"{what}: clean", observed, "exit 0")


_ADVISORY = re.compile(r"^Crate:\s+(\S+)\s*\nVersion:\s+(\S+)(?:.|\n)*?^ID:\s+(\S+)", re.M)


def audit_clean(result: Any) -> Verdict:
    """PRE-CQ-5: cargo audit finds no vulnerability in Cargo.lock (each one named)."""
    if any(m in result.output_tail.lower() for m in _UNRECOGNISED_SUBCOMMAND):
        return command_clean(result, "cargo audit")
    found = [f"{c} {v} ({i})" for c, v, i in _ADVISORY.findall(result.output_tail)]
    observed = {**_observed(result), "vulnerabilities": found}
    if result.exit_code != 0 or found:
        what = ", ".join(found) if found else result.output_tail.strip().splitlines()[-1][:160]
        return failed(f"cargo audit: {len(found)} vulnerable crate(s): {what}", observed, "no advisory applies")
    if "Loaded" not in result.output_tail:
        return inconclusive(
            "cargo audit did not report loading an advisory database",
            observed,
            "an advisory database loaded and no advisory applies",
        )
    return passed("cargo audit: no advisory applies", observed, "no advisory applies")
