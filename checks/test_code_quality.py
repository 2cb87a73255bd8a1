"""Preflight code quality: the release's own cargo commands, run in its backend workspace."""

import pytest

from nova_gate.rules import commands as rules


@pytest.mark.item("PRE-CQ-1")
def test_unit_tests_pass(cargo, env, gate):
    gate.judge(rules.tests_passed(cargo.run(env.commands.unit_tests), "unit tests"))


@pytest.mark.item("PRE-CQ-2")
def test_integration_tests_pass(cargo, env, gate):
    gate.judge(rules.tests_passed(cargo.run(env.commands.integration_tests), "integration tests"))


@pytest.mark.item("PRE-CQ-3")
def test_no_compiler_warnings(cargo, env, gate):
    gate.judge(rules.command_clean(cargo.run(env.commands.clippy), "clippy -D warnings"))


@pytest.mark.item("PRE-CQ-4")
def test_code_formatted(cargo, env, gate):
    gate.judge(rules.command_clean(cargo.run(env.commands.fmt), "cargo fmt --check"))


@pytest.mark.item("PRE-CQ-5")
def test_security_audit_clean(cargo, env, gate):
    argv = list(env.commands.audit)
    if env.commands.audit_db is not None:
        argv += ["--db", str(env.commands.audit_db)]
    gate.evidence(source="command", advisory_db=env.commands.audit_db)
    gate.judge(rules.audit_clean(cargo.run(argv)))
