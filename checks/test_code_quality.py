"""Preflight code quality: the release's own cargo commands, run in its backend workspace."""

import pytest

from nova_gate.rules import commands as rules

#: item, the environment's command (``commands.*``), the rule that judges its result, what it is
CARGO_CHECKS = [
    ("PRE-CQ-1", "unit_tests", rules.tests_passed, "unit tests"),
    ("PRE-CQ-2", "integration_tests", rules.tests_passed, "integration tests"),
    ("PRE-CQ-3", "clippy", rules.command_clean, "clippy -D warnings"),
    ("PRE-CQ-4", "fmt", rules.command_clean, "cargo fmt --check"),
]


@pytest.mark.parametrize(
    ("command", "rule", "what"),
    [pytest.param(c, r, w, marks=pytest.mark.item(i), id=c) for i, c, r, w in CARGO_CHECKS],
)
def test_cargo_command(command, rule, what, cargo, env, gate):
    gate.judge(rule(cargo.run(getattr(env.commands, command)), what))


@pytest.mark.item("PRE-CQ-5")
def test_security_audit_clean(cargo, env, gate):
    argv = list(env.commands.audit)
    if env.commands.audit_db is not None:
        argv += ["--db", str(env.commands.audit_db)]
    gate.evidence(source="command", advisory_db=env.commands.audit_db)
    gate.judge(rules.audit_clean(cargo.run(argv)))
