"""Kafka rules on hand-built facts: PRE-CFG-5, PST-10, PRE-INF-4, P24-5, MON-7."""

from __future__ import annotations

import pytest

from nova_gate.backends.kafka.config import Topic
from nova_gate.backends.kafka.facts import BrokerFacts, PartitionFacts, PartitionLag, TopicFacts
from nova_gate.backends.kafka.rules import (
    LagSample,
    consumer_lag_below,
    lag_not_growing,
    partitions_healthy,
    samples_from_snapshots,
    topics_listed,
    topics_match,
)
from nova_gate.verdict import Label

WEEK = 604_800_000
EXPECTED = [
    Topic(name="user-events", partitions=6, retention_ms=WEEK),
    Topic(name="messages", partitions=6, retention_ms=WEEK),
    Topic(name="analytics-events", partitions=6, retention_ms=30 * 86_400_000),
]
BROKERS = [BrokerFacts(n, "127.0.0.1", 59191 + n) for n in (1, 2, 3)]


def topic(
    name: str,
    partitions: int = 6,
    retention: str | None = str(WEEK),
    policy: str | None = "delete",
    replicas: tuple[int, ...] = (1, 2, 3),
    isr: tuple[int, ...] | None = None,
    leader: int = 1,
) -> TopicFacts:
    configs = {}
    if retention is not None:
        configs["retention.ms"] = retention
    if policy is not None:
        configs["cleanup.policy"] = policy
    parts = tuple(PartitionFacts(p, leader, replicas, replicas if isr is None else isr) for p in range(partitions))
    return TopicFacts(name, partitions, len(replicas), configs, parts)


def healthy_facts() -> dict[str, TopicFacts]:
    return {
        "user-events": topic("user-events"),
        "messages": topic("messages"),
        "analytics-events": topic("analytics-events", retention=str(30 * 86_400_000)),
    }


# -- topics_match (PRE-CFG-5) --------------------------------------------------------------------
def test_topics_match_pass() -> None:
    v = topics_match(healthy_facts(), EXPECTED)
    assert v.label is Label.PASS
    assert v.observed["messages"]["retention.ms"] == str(WEEK)
    assert v.expected["messages"]["retention.ms"] == WEEK


def test_extra_topics_are_fine() -> None:
    facts = healthy_facts() | {"scratch": topic("scratch", partitions=1)}
    assert topics_match(facts, EXPECTED).label is Label.PASS


def test_missing_topic_fails_and_is_named() -> None:
    facts = healthy_facts()
    del facts["messages"]
    v = topics_match(facts, EXPECTED)
    assert v.label is Label.FAIL
    assert "topic messages missing" in v.reason
    assert v.observed["messages"] is None


def test_wrong_partition_count_fails() -> None:
    facts = healthy_facts() | {"messages": topic("messages", partitions=3)}
    v = topics_match(facts, EXPECTED)
    assert v.label is Label.FAIL
    assert "messages: 3 partitions, expected 6" in v.reason


def test_altered_retention_fails() -> None:
    facts = healthy_facts() | {"messages": topic("messages", retention="3600000")}
    v = topics_match(facts, EXPECTED)
    assert v.label is Label.FAIL
    assert "messages: retention.ms=3600000, expected 604800000" in v.reason


def test_cleanup_policy_differs_fails() -> None:
    facts = healthy_facts() | {"user-events": topic("user-events", policy="compact")}
    v = topics_match(facts, EXPECTED)
    assert v.label is Label.FAIL
    assert "cleanup.policy=compact" in v.reason


def test_cleanup_policy_order_does_not_matter() -> None:
    expected = [Topic(name="t", partitions=1, retention_ms=1, cleanup_policy="compact,delete")]
    facts = {"t": topic("t", partitions=1, retention="1", policy="delete,compact")}
    assert topics_match(facts, expected).label is Label.PASS


def test_replication_factor_differs_fails() -> None:
    facts = healthy_facts() | {"messages": topic("messages", replicas=(1,))}
    v = topics_match(facts, EXPECTED)
    assert v.label is Label.FAIL
    assert "replication factor 1, expected 3" in v.reason


def test_every_problem_is_named() -> None:
    facts = {
        "user-events": topic("user-events", partitions=3),
        "analytics-events": topic("analytics-events", retention=str(WEEK), policy="compact"),
    }
    v = topics_match(facts, EXPECTED)
    assert v.label is Label.FAIL
    assert len(v.details["problems"]) == 4
    for text in (
        "user-events: 3 partitions",
        "topic messages missing",
        "analytics-events: retention.ms",
        "analytics-events: cleanup.policy",
    ):
        assert text in v.reason


def test_unreadable_configs_are_inconclusive() -> None:
    facts = healthy_facts() | {"messages": topic("messages", retention=None)}
    v = topics_match(facts, EXPECTED)
    assert v.label is Label.INCONCLUSIVE
    assert "retention.ms not reported" in v.reason


def test_non_numeric_retention_fails() -> None:
    facts = healthy_facts() | {"messages": topic("messages", retention="forever")}
    assert topics_match(facts, EXPECTED).label is Label.FAIL


def test_no_expectations_is_inconclusive() -> None:
    assert topics_match(healthy_facts(), []).label is Label.INCONCLUSIVE


# -- topics_listed (PST-10) ------------------------------------------------------------------------
def test_topics_listed_pass_with_topic_models_and_names() -> None:
    names = ["user-events", "messages", "analytics-events", "__consumer_offsets"]
    assert topics_listed(names, EXPECTED).label is Label.PASS
    assert topics_listed(names, ["messages"]).label is Label.PASS


def test_topics_listed_missing_fails() -> None:
    v = topics_listed(["user-events", "analytics-events"], EXPECTED)
    assert v.label is Label.FAIL
    assert v.details["missing"] == ["messages"]
    assert "messages" in v.reason


def test_topics_listed_nothing_expected_is_inconclusive() -> None:
    assert topics_listed(["a"], []).label is Label.INCONCLUSIVE


# -- partitions_healthy (PRE-INF-4) ---------------------------------------------------------------
def test_partitions_healthy_pass() -> None:
    v = partitions_healthy(healthy_facts(), 3, BROKERS)
    assert v.label is Label.PASS
    assert v.observed["partitions"] == 18


def test_under_replicated_fails() -> None:
    facts = healthy_facts() | {"messages": topic("messages", isr=(1, 2))}
    v = partitions_healthy(facts, 3, BROKERS)
    assert v.label is Label.FAIL
    assert "6 under-replicated" in v.reason
    assert "messages-0 (out of ISR: 3)" in v.reason


def test_broker_missing_fails() -> None:
    facts = {n: topic(n, isr=(1, 2)) for n in ("user-events", "messages")}
    v = partitions_healthy(facts, 3, BROKERS[:2])
    assert v.label is Label.FAIL
    assert "2 of 3 brokers registered" in v.reason
    assert "unregistered broker(s) 3" in v.reason


def test_broker_missing_fails_even_when_partitions_look_fine() -> None:
    v = partitions_healthy(healthy_facts(), 3, BROKERS[:2])
    assert v.label is Label.FAIL


def test_fenced_broker_does_not_count() -> None:
    brokers = [*BROKERS[:2], BrokerFacts(3, "127.0.0.1", 59194, fenced=True)]
    v = partitions_healthy(healthy_facts(), 3, brokers)
    assert v.label is Label.FAIL
    assert "fenced: 3" in v.reason


def test_partition_without_leader_fails() -> None:
    facts = healthy_facts() | {"messages": topic("messages", leader=-1)}
    v = partitions_healthy(facts, 3, BROKERS)
    assert v.label is Label.FAIL
    assert "without leader" in v.reason


def test_isr_order_does_not_matter() -> None:
    facts = {"t": topic("t", partitions=1, replicas=(3, 1, 2), isr=(1, 2, 3))}
    assert partitions_healthy(facts, 3, BROKERS).label is Label.PASS


def test_no_partitions_is_inconclusive() -> None:
    assert partitions_healthy({}, 3, BROKERS).label is Label.INCONCLUSIVE


def test_more_brokers_than_expected_is_fine() -> None:
    brokers = [*BROKERS, BrokerFacts(4, "127.0.0.1", 59195)]
    assert partitions_healthy(healthy_facts(), 3, brokers).label is Label.PASS


# -- consumer_lag_below (P24-5) -------------------------------------------------------------------
def lag(*values: tuple[int, int]) -> dict[str, PartitionLag]:
    return {f"t-{i}": PartitionLag(c, e, e - c) for i, (c, e) in enumerate(values)}


def test_lag_below_limit_passes() -> None:
    v = consumer_lag_below({"g1": lag((10, 20), (5, 5)), "g2": lag((0, 999))}, 1000)
    assert v.label is Label.PASS
    assert v.observed["g1"]["lag"] == 10


def test_lag_at_limit_fails() -> None:
    v = consumer_lag_below({"g": lag((0, 500), (0, 500))}, 1000)
    assert v.label is Label.FAIL
    assert "g: lag 1000 >= 1000" in v.reason


def test_lag_over_limit_names_the_worst_partition() -> None:
    v = consumer_lag_below({"ok": lag((5, 5)), "slow": lag((0, 10), (0, 5000))}, 1000)
    assert v.label is Label.FAIL
    assert "slow" in v.reason and "t-1: 5000" in v.reason
    assert "ok" not in v.reason


def test_expected_group_without_commits_fails() -> None:
    v = consumer_lag_below({"g1": lag((1, 1)), "g2": {}}, 1000, groups=["g1", "g2", "g3"])
    assert v.label is Label.FAIL
    assert "g2: no committed offsets" in v.reason
    assert "g3: no committed offsets" in v.reason


def test_plain_tuples_are_accepted() -> None:
    assert consumer_lag_below({"g": {"t-0": (1, 2, 1)}}, 1000).label is Label.PASS


def test_no_groups_is_inconclusive() -> None:
    assert consumer_lag_below({}, 1000).label is Label.INCONCLUSIVE


# -- lag_not_growing (MON-7) ------------------------------------------------------------------------
def series(*points: tuple[int, int], step: float = 60) -> list[LagSample]:
    return [LagSample(i * step, c, e) for i, (c, e) in enumerate(points)]


def test_steady_consumer_passes() -> None:
    v = lag_not_growing({"g": series((100, 110), (200, 205), (300, 312))}, 1000)
    assert v.label is Label.PASS


def test_idle_group_passes() -> None:
    assert lag_not_growing({"g": series((50, 50), (50, 50), (50, 50))}, 1000).label is Label.PASS


def test_stalled_consumer_fails_under_the_threshold() -> None:
    v = lag_not_growing({"g": series((100, 100), (100, 150), (100, 300))}, 1000)
    assert v.label is Label.FAIL
    assert "stuck at 100" in v.reason and "0 -> 200" in v.reason


def test_consumer_that_stops_mid_window_fails() -> None:
    v = lag_not_growing({"g": series((100, 100), (200, 200), (300, 310), (300, 400), (300, 500))}, 1000)
    assert v.label is Label.FAIL
    assert "stuck at 300 for 120s" in v.reason


def test_spike_over_limit_fails_even_if_recovered() -> None:
    v = lag_not_growing({"g": series((0, 10), (10, 5000), (5000, 5010))}, 1000)
    assert v.label is Label.FAIL
    assert "spike 4990" in v.reason


def test_falling_behind_warns() -> None:
    v = lag_not_growing({"g": series((0, 10), (10, 60), (50, 200), (100, 400))}, 1000)
    assert v.label is Label.WARN
    assert "falling behind" in v.reason


def test_offsets_going_backwards_warns() -> None:
    v = lag_not_growing({"g": series((500, 510), (100, 510), (510, 520))}, 1000)
    assert v.label is Label.WARN


def test_too_few_samples_is_inconclusive() -> None:
    v = lag_not_growing({"g": series((1, 2))}, 1000)
    assert v.label is Label.INCONCLUSIVE


def test_no_samples_is_inconclusive() -> None:
    assert lag_not_growing({}, 1000).label is Label.INCONCLUSIVE


def test_worst_group_decides_and_every_bad_group_is_named() -> None:
    v = lag_not_growing(
        {
            "fine": series((1, 1), (2, 2)),
            "stalled": series((5, 5), (5, 50)),
            "behind": series((0, 1), (1, 5), (2, 9)),
        },
        1000,
    )
    assert v.label is Label.FAIL
    assert "stalled" in v.reason and "behind" in v.reason and "fine" not in v.reason
    assert set(v.details["groups"]) == {"fine", "stalled", "behind"}


def test_samples_are_sorted_by_time() -> None:
    samples = [LagSample(120, 100, 300), LagSample(0, 100, 100), LagSample(60, 100, 150)]
    assert lag_not_growing({"g": samples}, 1000).label is Label.FAIL


@pytest.mark.parametrize("t0", [0.0, 1_700_000_000.0])
def test_samples_from_snapshots(t0: float) -> None:
    snaps = [
        (t0, {"g": {"a-0": PartitionLag(10, 12, 2), "a-1": PartitionLag(5, 5, 0)}, "none": {}}),
        (t0 + 60, {"g": {"a-0": PartitionLag(10, 40, 30), "a-1": PartitionLag(5, 9, 4)}, "none": {}}),
    ]
    samples = samples_from_snapshots(snaps)
    assert samples["g"] == [LagSample(t0, 15, 17), LagSample(t0 + 60, 15, 49)]
    assert samples["none"] == []
    v = lag_not_growing(samples, 1000)
    assert v.label is Label.FAIL  # g stalled; "none" has no samples
