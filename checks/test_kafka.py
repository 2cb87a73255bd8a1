"""Kafka checks: topics and retention, partition health, topic list, consumer lag."""

from __future__ import annotations

import pytest

from nova_gate.backends.kafka import rules as rules
from nova_gate.windows import step_for


@pytest.mark.item("PRE-CFG-5")
def test_topics_and_retention(kafka, env, gate):
    expected = env.expectations.topics
    facts = kafka.topics([t.name for t in expected])
    gate.evidence(source="kafka", call="describe_topics + describe_configs", topics=sorted(facts))
    gate.judge(rules.topics_match(facts, expected))


@pytest.mark.item("PRE-INF-4")
def test_brokers_and_partitions_healthy(kafka, env, gate):
    brokers = kafka.brokers()
    facts = kafka.topics([t.name for t in env.expectations.topics])
    gate.evidence(source="kafka", brokers=[b.node_id for b in brokers])
    gate.judge(rules.partitions_healthy(facts, env.backends.kafka.expected_brokers, brokers))


@pytest.mark.item("PST-10")
def test_topic_list(kafka, env, gate):
    names = kafka.topic_names()
    gate.evidence(source="kafka", call="list_topics", topics=names)
    gate.judge(rules.topics_listed(names, env.expectations.topics))


@pytest.mark.item("P24-5")
def test_consumer_lag_below_limit(kafka, env, gate):
    groups = env.expectations.consumer_groups
    lag = kafka.consumer_group_lag(groups)
    gate.evidence(source="kafka", groups=groups, threshold=env.thresholds.consumer_lag)
    gate.judge(rules.consumer_lag_below(lag, env.thresholds.consumer_lag, groups))


@pytest.mark.item("MON-7")
def test_consumer_lag_without_spikes(windows, env, gate):
    """Every group's lag over the whole stability window, from the lag exporter's series: no spike
    against the absolute limit or the group's own baseline, no growth, data over the window."""
    t, m = env.thresholds, env.metrics
    window_s = t.stability_window_min * 60
    step = step_for(window_s)
    query = m.consumer_lag
    series = windows.prometheus.range_by(query, windows.end - window_s, windows.end, step, by=(m.consumer_group_label,))
    lag = {key[0]: points for key, points in series.items() if key and key[0]}
    spike = rules.LagSpikeRules(
        max_lag=t.consumer_lag,
        factor=t.consumer_lag_spike_factor,
        min_excess=t.consumer_lag_spike_min,
        max_gap_points=m.max_gap_scrapes,
        min_coverage=m.min_coverage,
        step_s=step,
    )
    gate.evidence(
        source="prometheus",
        query=query,
        window_min=t.stability_window_min,
        step_s=step,
        groups=env.expectations.consumer_groups,
        threshold=t.consumer_lag,
    )
    gate.judge(rules.lag_over_window(lag, spike, env.expectations.consumer_groups))
