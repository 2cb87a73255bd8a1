"""PRE-INF-6 on hand-built Elasticsearch/OpenSearch facts."""

from __future__ import annotations

from nova_gate.backends.search.facts import IndexFacts, UnassignedShard
from nova_gate.backends.search.rules import indices_healthy
from nova_gate.verdict import Label


def idx(name: str, health: str = "green", status: str = "open", pri: int = 1, rep: int = 0) -> IndexFacts:
    return IndexFacts(name, health, status, pri, rep, 10)


GREEN = [idx("posts"), idx("users"), idx("hashtags")]


def test_all_green_passes() -> None:
    v = indices_healthy(GREEN, [])
    assert v.label is Label.PASS
    assert v.observed["indices"] == {"posts": "green", "users": "green", "hashtags": "green"}


def test_no_indices_is_inconclusive() -> None:
    assert indices_healthy([], []).label is Label.INCONCLUSIVE


def test_red_index_fails_and_is_named() -> None:
    shard = UnassignedShard("broken", 0, True, "INDEX_CREATED", "no node matches require._name")
    v = indices_healthy([*GREEN, idx("broken", "red")], [shard])
    assert v.label is Label.FAIL
    assert "1 red index(es): broken" in v.reason
    assert "broken[0]p (INDEX_CREATED): no node matches require._name" in v.reason
    assert v.details["red"] == ["broken"]


def test_unassigned_primary_fails_even_if_index_not_reported_red() -> None:
    v = indices_healthy(GREEN, [UnassignedShard("posts", 2, True, "NODE_LEFT")])
    assert v.label is Label.FAIL
    assert "unassigned primary" in v.reason and "posts[2]p (NODE_LEFT)" in v.reason


def test_red_index_without_shard_list_still_fails() -> None:
    assert indices_healthy([*GREEN, idx("x", "red")], []).label is Label.FAIL


def test_yellow_warns_naming_unassigned_replicas() -> None:
    replicas = [UnassignedShard("posts", 0, False, "INDEX_CREATED"), UnassignedShard("posts", 1, False, "")]
    v = indices_healthy([idx("posts", "yellow", rep=1), idx("users")], replicas)
    assert v.label is Label.WARN
    assert "1 yellow index(es): posts" in v.reason
    assert "posts[0]r (INDEX_CREATED)" in v.reason and "posts[1]r" in v.reason
    assert v.details["yellow"] == ["posts"]


def test_red_beats_yellow() -> None:
    v = indices_healthy(
        [idx("a", "yellow"), idx("b", "red")],
        [UnassignedShard("a", 0, False, "NODE_LEFT"), UnassignedShard("b", 0, True, "NODE_LEFT")],
    )
    assert v.label is Label.FAIL
    assert "b" in v.reason


def test_unassigned_replica_on_green_index_warns() -> None:
    v = indices_healthy(GREEN, [UnassignedShard("users", 0, False, "REPLICA_ADDED")])
    assert v.label is Label.WARN


def test_expected_index_missing_fails() -> None:
    v = indices_healthy(GREEN[:2], [], expected=["posts", "users", "hashtags"])
    assert v.label is Label.FAIL
    assert v.details["missing"] == ["hashtags"]


def test_expected_indices_present_pass() -> None:
    assert indices_healthy(GREEN, [], expected=["posts"]).label is Label.PASS


def test_unknown_health_of_open_index_is_inconclusive() -> None:
    v = indices_healthy([*GREEN, idx("odd", "")], [])
    assert v.label is Label.INCONCLUSIVE
    assert "odd" in v.reason


def test_closed_index_without_health_is_ignored() -> None:
    assert indices_healthy([*GREEN, idx("archive", "", status="close")], []).label is Label.PASS


def test_many_red_indices_are_counted_not_all_listed() -> None:
    reds = [idx(f"r{i}", "red") for i in range(10)]
    v = indices_healthy(reds, [])
    assert v.label is Label.FAIL
    assert "10 red index(es)" in v.reason and "and 4 more" in v.reason
    assert len(v.details["red"]) == 10
