"""ClickHouse rules on hand-built facts (PRE-CFG-7, PRE-INF-5, PST-9) and the source on a closed port."""

from __future__ import annotations

import time

import pytest

from nova_gate.backends.base import SourceError
from nova_gate.backends.clickhouse.config import ClickHouse
from nova_gate.backends.clickhouse.facts import PartitionParts
from nova_gate.backends.clickhouse.rules import parts_healthy, rows_present, schemas_match
from nova_gate.backends.clickhouse.source import ClickHouseSource
from nova_gate.testing import free_port
from nova_gate.verdict import Label

EXPECTED = {"t": {"a": "UInt64", "b": "LowCardinality(String)"}}
PARTS = [PartitionParts("t", "202611", 4)]


@pytest.mark.parametrize(
    ("actual", "label"),
    [
        ({"t": {"a": "UInt64", "b": "LowCardinality(String)"}}, Label.PASS),
        ({"t": {"a": "UInt32", "b": "LowCardinality(String)"}}, Label.FAIL),
        ({"t": {"a": "UInt64"}}, Label.FAIL),
        ({"t": {"a": "UInt64", "b": "LowCardinality(String)", "c": "Int8"}}, Label.FAIL),
        ({}, Label.FAIL),
    ],
)
def test_schemas_match(actual: dict[str, dict[str, str]], label: Label) -> None:
    assert schemas_match(EXPECTED, actual).label is label


def test_no_expectations_is_not_a_pass() -> None:
    assert schemas_match({}, {"t": {"a": "UInt64"}}).label is Label.INCONCLUSIVE


def test_parts_healthy() -> None:
    assert parts_healthy([], None, PARTS, 300).label is Label.PASS
    assert parts_healthy([], [{"table": "t", "is_readonly": False}], PARTS, 300).label is Label.PASS


@pytest.mark.parametrize(
    ("detached", "replicas", "parts"),
    [
        ([{"table": "t", "part": "all_1_1_0", "reason": ""}], None, PARTS),
        ([], [{"table": "t", "is_readonly": True}], PARTS),
        ([], None, [PartitionParts("t", "202611", 300)]),
    ],
)
def test_parts_unhealthy(
    detached: list[dict[str, str]], replicas: list[dict[str, object]] | None, parts: list[PartitionParts]
) -> None:
    assert parts_healthy(detached, replicas, parts, 300).label is Label.FAIL


def test_no_parts_is_not_a_pass() -> None:
    assert parts_healthy([], None, [], 300).label is Label.INCONCLUSIVE


def test_rows_present() -> None:
    assert rows_present("t", 3).label is Label.PASS
    assert rows_present("t", 0).label is Label.FAIL


def test_unreachable_clickhouse_is_a_source_error_in_bounded_time() -> None:
    src = ClickHouseSource(ClickHouse(host="127.0.0.1", port=free_port(), database="nova", timeout_s=1))
    started = time.monotonic()
    with pytest.raises(SourceError, match="clickhouse"):
        src.count("feed_ranking_events")
    assert time.monotonic() - started < 10
    src.close()
