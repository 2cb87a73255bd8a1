"""ClickHouse checks: table schemas (PRE-CFG-7), parts and replicas (PRE-INF-5), data present (PST-9)."""

from __future__ import annotations

import pytest

from nova_gate.backends.clickhouse import rules as ch_rules


@pytest.mark.item("PRE-CFG-7")
def test_clickhouse_schemas(clickhouse, env, gate):
    expected = env.expectations.clickhouse_tables
    actual = clickhouse.columns(list(expected))
    gate.evidence(
        source="clickhouse",
        query="SELECT table, name, type FROM system.columns",
        observed=actual,
        expected=expected,
    )
    gate.judge(ch_rules.schemas_match(expected, actual))


@pytest.mark.item("PRE-INF-5")
def test_clickhouse_parts_healthy(clickhouse, env, gate):
    detached = clickhouse.detached_parts()
    replicas = clickhouse.replicas()
    partitions = clickhouse.parts_per_partition()
    limit = env.thresholds.clickhouse_parts_per_partition
    gate.evidence(
        source="clickhouse",
        query="system.detached_parts; system.replicas; system.parts (active)",
        observed={
            "detached": detached,
            "replicas": replicas,
            "top_partitions": [p.__dict__ for p in partitions[:5]],
        },
        expected={"detached": 0, "readonly_replicas": 0, "parts_per_partition": f"< {limit}"},
    )
    gate.judge(
        ch_rules.parts_healthy(
            detached,
            replicas,
            partitions,
            limit,
            max_delay_s=env.thresholds.clickhouse_replica_delay_s,
            max_queue=env.thresholds.clickhouse_replica_queue,
        )
    )


@pytest.mark.item("PST-9")
def test_feed_ranking_events_present(clickhouse, gate):
    count = clickhouse.count("feed_ranking_events")
    gate.evidence(source="clickhouse", query="SELECT count() FROM feed_ranking_events", observed=count, expected="> 0")
    gate.judge(ch_rules.rows_present("feed_ranking_events", count))
