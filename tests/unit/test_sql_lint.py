"""The backward-compatibility lint (PRE-DB-1 / MIG-2) on PostgreSQL's parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from nova_gate.backends.postgres.migration_files import read_migrations
from nova_gate.backends.postgres.sql_lint import (
    RULES,
    Finding,
    Severity,
    comments,
    lint_migrations,
    lint_sql,
    lint_verdict,
    statements,
)
from nova_gate.verdict import Label

CORPUS = Path(__file__).parent / "lint_corpus"
CASES = sorted(CORPUS.glob("*.sql"))


def _header(path: Path, key: str) -> list[str]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"-- {key}:"):
            return sorted(r.strip() for r in line.split(":", 1)[1].split(",") if r.strip())
    return []


def active_rules(findings: list[Finding]) -> list[str]:
    return sorted(f.rule for f in findings if f.active)


def test_corpus_is_large_enough_and_covers_every_rule() -> None:
    assert len(CASES) >= 20
    covered = {rule for case in CASES for rule in _header(case, "expect") + _header(case, "expect-ignored")}
    assert covered == set(RULES)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_corpus_case(case: Path) -> None:
    findings = lint_sql(case.read_text(encoding="utf-8"), case.name)
    assert active_rules(findings) == _header(case, "expect")
    assert sorted(f.rule for f in findings if not f.active) == _header(case, "expect-ignored")
    for finding in findings:
        assert finding.file == case.name
        assert finding.severity is RULES[finding.rule][0]
        assert finding.message


def test_hidden_statements_are_not_statements() -> None:
    sql = (CORPUS / "22_hidden_statements.sql").read_text(encoding="utf-8")
    assert lint_sql(sql, "hidden.sql") == []
    kinds = [type(s.node).__name__ for s in statements(sql)]
    assert kinds == ["SelectStmt", "SelectStmt", "SelectStmt", "CreateFunctionStmt", "CommentStmt"]


def test_line_is_statement_start_and_text_is_trimmed() -> None:
    sql = (
        "-- header é ü\n"
        "SET lock_timeout = '1s';\n"
        "\n"
        "/* a comment\n   over lines */\n"
        "SELECT 'é;\n';  ALTER TABLE\n"
        "    users\n"
        "    DROP COLUMN x;   \n"
    )
    findings = lint_sql(sql, "m.sql")
    assert [(f.rule, f.line) for f in findings] == [("drop-column", 7)]
    assert findings[0].statement == "ALTER TABLE\n    users\n    DROP COLUMN x"


def test_statement_without_trailing_semicolon() -> None:
    findings = lint_sql("SET lock_timeout = '1s';\nTRUNCATE t  \n", "m.sql")
    assert [(f.rule, f.line, f.statement) for f in findings] == [("truncate", 2, "TRUNCATE t")]


def test_crlf_lines() -> None:
    findings = lint_sql("SET lock_timeout = '1s';\r\n\r\nDROP TABLE t;\r\n", "m.sql")
    assert [(f.rule, f.line) for f in findings] == [("drop-table", 3)]


def test_syntax_error_names_file_and_line() -> None:
    findings = lint_sql("SELECT 1;\n\nSELECT * FRO users;\n", "0042_bad.sql")
    assert len(findings) == 1
    (finding,) = findings
    assert (finding.file, finding.line, finding.rule, finding.severity) == (
        "0042_bad.sql",
        3,
        "syntax-error",
        Severity.BLOCK,
    )
    assert "FRO" in finding.message
    assert finding.statement == "SELECT * FRO users;"
    assert lint_verdict(findings).label is Label.FAIL


def test_unterminated_dollar_quote_is_a_syntax_error() -> None:
    findings = lint_sql("SET lock_timeout = '1s';\nDO $$ BEGIN DROP TABLE x;\n", "m.sql")
    assert [f.rule for f in findings] == ["syntax-error"]


def test_comments_from_scanner() -> None:
    found = comments("SELECT '-- not a comment' -- yes\n/* two\nlines */ SELECT 1")
    assert [(c.text, c.first_line, c.last_line) for c in found] == [
        ("-- yes", 1, 1),
        ("/* two\nlines */", 2, 3),
    ]


# ------------------------------------------------------------------ ignore directives

SET = "SET lock_timeout = '1s';\n"


def test_reviewed_ignore_keeps_finding_as_ignored() -> None:
    sql = SET + "-- nova-gate: ignore drop-column reason: unused since 4.1\nALTER TABLE u DROP COLUMN c;\n"
    (finding,) = lint_sql(sql)
    assert finding.rule == "drop-column"
    assert finding.ignored_reason == "unused since 4.1"
    verdict = lint_verdict([finding])
    assert verdict.label is Label.PASS
    assert verdict.details["ignored"][0]["ignored_reason"] == "unused since 4.1"


def test_ignore_may_sit_among_other_comments_directly_above() -> None:
    sql = SET + "-- nova-gate: ignore drop-column reason: ok\n-- why: NOVA-1\nALTER TABLE u DROP COLUMN c;\n"
    assert active_rules(lint_sql(sql)) == []


def test_c_style_ignore() -> None:
    sql = SET + "/* nova-gate: ignore truncate reason: staging-only table */\nTRUNCATE t;\n"
    assert active_rules(lint_sql(sql)) == []


def test_ignore_covers_only_its_rule() -> None:
    sql = "-- nova-gate: ignore drop-column reason: ok\nALTER TABLE u DROP COLUMN c;\n"
    assert active_rules(lint_sql(sql)) == ["missing-lock-timeout"]


def test_ignore_separated_by_blank_line_is_not_attached() -> None:
    sql = SET + "-- nova-gate: ignore drop-column reason: ok\n\nALTER TABLE u DROP COLUMN c;\n"
    findings = lint_sql(sql)
    assert active_rules(findings) == ["bad-ignore", "drop-column"]
    assert next(f for f in findings if f.rule == "bad-ignore").line == 2


def test_ignore_on_same_line_after_statement_is_not_attached() -> None:
    sql = SET + "ALTER TABLE u DROP COLUMN c; -- nova-gate: ignore drop-column reason: ok\n"
    assert active_rules(lint_sql(sql)) == ["bad-ignore", "drop-column"]


def test_dangling_ignore_at_end_of_file() -> None:
    sql = SET + "SELECT 1;\n-- nova-gate: ignore truncate reason: whole file\n"
    assert active_rules(lint_sql(sql)) == ["bad-ignore"]


@pytest.mark.parametrize(
    "directive",
    [
        "-- nova-gate: ignore drop-column",
        "-- nova-gate: ignore drop-column reason:",
        "-- nova-gate: ignore drop-column reason:    ",
        "-- nova-gate: ignore drop-column because: old",
        "-- nova-gate: ignore no-such-rule reason: x",
        "-- nova-gate: ignore all reason: x",
        "-- nova-gate: skip drop-column reason: x",
        "-- nova-gate:",
    ],
)
def test_malformed_ignore_is_a_finding_and_ignores_nothing(directive: str) -> None:
    sql = SET + directive + "\nALTER TABLE u DROP COLUMN c;\n"
    assert active_rules(lint_sql(sql)) == ["bad-ignore", "drop-column"]


def test_syntax_error_and_bad_ignore_cannot_be_ignored() -> None:
    sql = "-- nova-gate: ignore bad-ignore reason: x\nSELECT 1;\n"
    assert active_rules(lint_sql(sql)) == ["bad-ignore"]


def test_directive_text_inside_string_is_not_a_directive() -> None:
    sql = SET + "SELECT '-- nova-gate: ignore drop-column reason: x';\nALTER TABLE u DROP COLUMN c;\n"
    assert active_rules(lint_sql(sql)) == ["drop-column"]


# ------------------------------------------------------------------ lock_timeout and context


@pytest.mark.parametrize(
    ("prelude", "expected"),
    [
        ("", ["missing-lock-timeout"]),
        ("SET lock_timeout = '2s';", []),
        ("SET LOCAL lock_timeout TO 2000;", []),
        ("SELECT set_config('lock_timeout', '2s', true);", []),
        ("SET lock_timeout = 0;", ["missing-lock-timeout"]),
        ("SET lock_timeout = '2s'; RESET lock_timeout;", ["missing-lock-timeout"]),
        ("SET statement_timeout = '2s';", ["missing-lock-timeout"]),
    ],
)
def test_lock_timeout(prelude: str, expected: list[str]) -> None:
    sql = prelude + "\nALTER TABLE u ADD COLUMN c text;\nALTER TABLE u ADD COLUMN d text;\n"
    findings = lint_sql(sql)
    assert active_rules(findings) == expected
    if expected:
        assert findings[0].line == 2  # reported once, on the first locking statement


def test_lock_timeout_set_after_the_locking_statement_is_too_late() -> None:
    sql = "ALTER TABLE u ADD COLUMN c text;\nSET lock_timeout = '1s';\n"
    assert active_rules(lint_sql(sql)) == ["missing-lock-timeout"]


def test_statements_on_tables_created_in_the_same_migration_are_exempt() -> None:
    sql = (
        "CREATE TABLE n (id int);\n"
        "ALTER TABLE n ADD COLUMN a int NOT NULL;\n"
        "ALTER TABLE n ALTER COLUMN id SET NOT NULL;\n"
        "ALTER TABLE n ADD CONSTRAINT c CHECK (id > 0);\n"
        "CREATE INDEX ON n (a);\n"
    )
    assert lint_sql(sql) == []


def test_set_not_null_on_column_added_in_same_migration_is_exempt() -> None:
    sql = SET + "ALTER TABLE u ADD COLUMN c int DEFAULT 0;\nALTER TABLE u ALTER COLUMN c SET NOT NULL;\n"
    assert lint_sql(sql) == []


def test_add_column_not_null_variants() -> None:
    sql = SET + (
        "ALTER TABLE u ADD COLUMN a int NOT NULL DEFAULT 1;\n"
        "ALTER TABLE u ADD COLUMN b bigint GENERATED ALWAYS AS IDENTITY;\n"
        "ALTER TABLE u ADD COLUMN c int GENERATED ALWAYS AS (1) STORED NOT NULL;\n"
        "ALTER TABLE u ADD COLUMN d int;\n"
        "ALTER TABLE u ADD COLUMN e int NOT NULL;\n"
    )
    findings = lint_sql(sql)
    # identity and stored generated columns have values (no add-column-not-null) but rewrite the table
    assert [(f.rule, f.line) for f in findings] == [
        ("add-column-rewrite", 3),
        ("add-column-rewrite", 4),
        ("add-column-not-null", 6),
    ]


def test_not_valid_constraints_and_set_default_pass() -> None:
    sql = SET + (
        "ALTER TABLE o ADD CONSTRAINT fk FOREIGN KEY (u) REFERENCES u (id) NOT VALID;\n"
        "ALTER TABLE o VALIDATE CONSTRAINT fk;\n"
        "ALTER TABLE o ALTER COLUMN s SET DEFAULT 'new';\n"
        "ALTER TABLE o ADD CONSTRAINT uq UNIQUE USING INDEX o_uq_idx;\n"
    )
    assert lint_sql(sql) == []


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);", []),
        ("-- no-transaction\nDROP INDEX CONCURRENTLY i;", ["drop-index"]),
        ("DROP INDEX CONCURRENTLY i;", ["concurrently-in-transaction", "drop-index"]),
        ("-- no-transaction\nREINDEX INDEX CONCURRENTLY i;", []),
        ("REINDEX INDEX CONCURRENTLY i;", ["concurrently-in-transaction"]),
        (
            "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);\nCREATE INDEX CONCURRENTLY j ON t (d);",
            ["concurrently-in-transaction", "concurrently-in-transaction"],
        ),
        (" -- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);", ["concurrently-in-transaction"]),
    ],
)
def test_concurrently_needs_its_own_no_transaction_migration(sql: str, expected: list[str]) -> None:
    assert active_rules(lint_sql(sql)) == expected


def test_drop_view_and_rename_view_are_blocking() -> None:
    sql = SET + "DROP VIEW v;\nALTER VIEW w RENAME TO x;\nDROP MATERIALIZED VIEW m;\n"
    assert active_rules(lint_sql(sql)) == ["drop-table", "drop-table", "rename-table"]


def test_vacuum_full_takes_access_exclusive() -> None:
    assert active_rules(lint_sql("VACUUM FULL t;")) == ["missing-lock-timeout"]
    assert active_rules(lint_sql("VACUUM t;")) == []


# ------------------------------------------------------------------ verdicts and files


def _finding(rule: str) -> Finding:
    return Finding("f.sql", 1, "x", rule, RULES[rule][0], "m")


def test_lint_verdict_labels() -> None:
    assert lint_verdict([]).label is Label.PASS
    warn = lint_verdict([_finding("drop-index")])
    assert warn.label is Label.WARN
    assert warn.observed[0]["rule"] == "drop-index"
    fail = lint_verdict([_finding("drop-index"), _finding("drop-table")])
    assert fail.label is Label.FAIL
    assert "drop-table" in fail.reason
    assert [f["rule"] for f in fail.observed] == ["drop-index", "drop-table"]


def test_lint_migrations_reads_files_and_skips_down(tmp_path: Path) -> None:
    (tmp_path / "1_init.up.sql").write_text("CREATE TABLE t (id int);\n")
    (tmp_path / "1_init.down.sql").write_text("DROP TABLE t;\n")
    (tmp_path / "2_idx.sql").write_text("-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);\n")
    (tmp_path / "3_drop.sql").write_text("SET lock_timeout = '1s';\n\nALTER TABLE t DROP COLUMN id;\n")
    findings = lint_migrations(read_migrations(tmp_path))
    assert [(f.file, f.line, f.rule) for f in findings] == [("3_drop.sql", 3, "drop-column")]
    assert lint_verdict(findings).label is Label.FAIL
