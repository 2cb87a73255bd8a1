"""Properties that hold for the whole class, not the hand-picked examples (issue 15).

- A statement means the same inside a ``DO`` block, directly or as ``EXECUTE '...'``: every case of
  both lint corpora (the hand-written and the public one), wrapped, gives the same findings.
- Retention orders versions semantically on random version sets, whatever their spelling.
- ``image_tag`` reads the tag of any reference (registry with port, nested path, tag, digest).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from nova_gate.backends.kubernetes import rules as k8s
from nova_gate.backends.postgres.sql_lint import lint_sql, statements
from nova_gate.backends.registry import rules as reg_rules
from nova_gate.verdict import Label

CORPUS = Path(__file__).parent / "lint_corpus"


def _wrappable() -> list[Path]:
    out = []
    for path in sorted(CORPUS.rglob("*.sql")):
        sql = path.read_text(encoding="utf-8")
        if "no-transaction" in sql or "CONCURRENTLY" in sql.upper() or "nova-gate:" in sql or "DO $" in sql:
            continue  # transaction-bound, directive-bound or already a DO block
        try:
            found = statements(sql, path.name)
        except ValueError:
            continue  # the syntax-error case
        kinds = {type(s.node).__name__ for s in found}
        if kinds & {"TransactionStmt", "CreateFunctionStmt", "DoStmt"}:
            continue
        out.append(path)
    return out


WRAPPABLE = _wrappable()


def _rules(sql: str) -> Counter[str]:
    return Counter(f.rule for f in lint_sql(sql, "m.sql") if f.active)


def test_enough_cases_to_mean_something() -> None:
    assert len(WRAPPABLE) >= 60


@pytest.mark.parametrize("path", WRAPPABLE, ids=[p.stem for p in WRAPPABLE])
def test_same_findings_inside_a_do_block(path: Path) -> None:
    sql = path.read_text(encoding="utf-8")
    texts = [s.text for s in statements(sql, path.name)]
    direct = "DO $$\nBEGIN\n" + "\n".join(f"{t};" for t in texts) + "\nEND\n$$;\n"
    executed = "DO $$\nBEGIN\n" + "\n".join("EXECUTE '" + t.replace("'", "''") + "';" for t in texts) + "\nEND\n$$;\n"
    assert _rules(direct) == _rules(sql)
    assert _rules(executed) == _rules(sql)


def test_retention_keeps_the_newest_versions_on_random_sets() -> None:
    rng = random.Random(15)
    for _ in range(300):
        versions = sorted(
            {(rng.randint(0, 3), rng.randint(0, 12), rng.randint(0, 12)) for _ in range(rng.randint(2, 7))}
        )
        spell = [f"{'v' if rng.random() < 0.7 else ''}{a}.{b}.{c}" for a, b, c in versions]
        tags = [*rng.sample(spell, len(spell)), "latest", "main"]
        running, rollback = spell[-1], spell[-2]
        keep = rng.randint(2, 5)
        v = reg_rules.retention("r", tags, keep, running=running, rollback=rollback)
        assert (v.label is Label.PASS) == (len(versions) <= keep), (tags, keep, v.reason)
        if len(versions) > keep:
            assert spell[0] in v.reason  # the oldest is named for pruning
            assert f"prune {spell[-keep - 1]}" in v.reason  # newest-first: the first one past the kept
        deleted = [t for t in tags if t != running]
        assert reg_rules.retention("r", deleted, 10, running=running, rollback=rollback).label is Label.FAIL


def test_image_tag_of_random_references() -> None:
    rng = random.Random(15)
    for _ in range(500):
        host = rng.choice(["", "registry.example.com/", "127.0.0.1:55000/", "reg:5000/"])
        path = "/".join(rng.choice(["nova", "team", "auth-service", "a.b", "x_y"]) for _ in range(rng.randint(1, 3)))
        tag = rng.choice(["", "v1.0.0", "1.2", "latest", "v1.0.0-rc.1", "sha-abc123"])
        digest = rng.choice(["", f"sha256:{rng.getrandbits(256):064x}"])
        ref = host + path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
        assert k8s.image_tag(ref) == (tag or digest), ref
