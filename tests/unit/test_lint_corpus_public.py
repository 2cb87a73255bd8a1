"""The migration lint held against a corpus nobody here wrote: the documented rule examples of Squawk
(https://squawkhq.com/docs/rules) and of strong_migrations (its README's checks), rewritten as sqlx
migration files under ``lint_corpus/public/`` with the verdict each source gives (``manifest.tsv``).

A source's "unsafe" agrees with a FAIL or WARN of nova-gate, its "safe" with a PASS. Every
disagreement must say in the manifest why nova-gate differs, every agreement must not, and the
README's table must show the counts computed here.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import pytest

from nova_gate.backends.postgres.sql_lint import lint_sql, lint_verdict
from nova_gate.verdict import Label

PUBLIC = Path(__file__).parent / "lint_corpus" / "public"
ROOT = Path(__file__).resolve().parents[2]


def manifest() -> list[dict[str, str]]:
    with (PUBLIC / "manifest.tsv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


ROWS = manifest()


def nova_gate_says(row: dict[str, str]) -> str:
    findings = lint_sql((PUBLIC / row["file"]).read_text(encoding="utf-8"), row["file"])
    return "safe" if lint_verdict(findings).label is Label.PASS else "unsafe"


def test_manifest_lists_every_file_once() -> None:
    files = [r["file"] for r in ROWS]
    assert len(files) == len(set(files))
    assert sorted(files) == sorted(p.name for p in PUBLIC.glob("*.sql"))
    assert {r["source_verdict"] for r in ROWS} <= {"safe", "unsafe"}
    assert {r["source"] for r in ROWS} == {"squawk", "strong_migrations"}


@pytest.mark.parametrize("row", ROWS, ids=[r["file"].removesuffix(".sql") for r in ROWS])
def test_each_disagreement_is_explained(row: dict[str, str]) -> None:
    agrees = nova_gate_says(row) == row["source_verdict"]
    if agrees:
        assert not row["nova_gate_differs"], f"{row['file']} agrees now: drop its nova_gate_differs note"
    else:
        assert row["nova_gate_differs"], f"{row['file']}: nova-gate differs from {row['source']} without a reason"


def agreement() -> dict[str, tuple[int, int]]:
    cases, agreed = Counter[str](), Counter[str]()
    for row in ROWS:
        cases[row["source"]] += 1
        agreed[row["source"]] += nova_gate_says(row) == row["source_verdict"]
    return {source: (cases[source], agreed[source]) for source in cases}


def test_readme_table_shows_the_computed_agreement() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for source, (cases, agreed) in agreement().items():
        row = re.search(rf"^\| {re.escape(source)}\b[^|]*\| (\d+) \| (\d+) \|", readme, re.MULTILINE)
        assert row, f"README lint corpus table has no row for {source}"
        assert (int(row.group(1)), int(row.group(2))) == (cases, agreed), f"{source}: README says {row.groups()}"
