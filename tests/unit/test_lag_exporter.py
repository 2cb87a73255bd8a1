"""The sandbox's lag exporter page and the history that continues its series (no servers)."""

from __future__ import annotations

import re
import time

from nova_gate.backends.kafka.facts import PartitionLag
from nova_gate.sandbox import history, kafka_layout, sim_model
from nova_gate.sandbox.lag_exporter import render

SAMPLE = re.compile(r"^([a-z_]+)\{([^}]*)\} (-?\d+(?:\.\d+)?)$")


def _samples(page: str) -> dict[str, dict[frozenset[tuple[str, str]], float]]:
    out: dict[str, dict[frozenset[tuple[str, str]], float]] = {}
    for line in page.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = frozenset(tuple(kv.split("=", 1)) for kv in match.group(2).split(","))
            out.setdefault(match.group(1), {})[labels] = float(match.group(3))
    return out


LAG = {
    "feed-service-consumer": {
        "content-events-0": PartitionLag(10, 14, 4),
        "feed-updates-5": PartitionLag(0, 1500, 1500, True),  # never committed: from log start
    },
    "odd-group": {"topic-with-dashes-2": PartitionLag(7, 7, 0)},
}


def test_page_has_kafka_exporter_names_and_labels():
    page = render(LAG, time.time(), fresh=True)
    found = _samples(page)
    lag = found["kafka_consumergroup_lag"]
    key = frozenset({("consumergroup", '"feed-service-consumer"'), ("topic", '"feed-updates"'), ("partition", '"5"')})
    assert lag[key] == 1500
    dashed = frozenset({("consumergroup", '"odd-group"'), ("topic", '"topic-with-dashes"'), ("partition", '"2"')})
    assert lag[dashed] == 0
    assert len(found["kafka_consumergroup_current_offset"]) == 3
    assert len(found["kafka_topic_partition_current_offset"]) == 3
    assert "kafka_exporter_up 1" in page


def test_a_stale_or_failed_poll_serves_no_lag():
    page = render(LAG, time.time() - 600, fresh=False)
    assert "kafka_consumergroup_lag" not in page
    assert "kafka_exporter_up 0" in page


def test_history_continues_the_exporters_series():
    """The backfilled past has exactly the live series' labels (scrape job and instance added), one
    per partition of every group's topics, with noise around the scenario's kafka.lag."""
    model = sim_model.compile_scenario(sim_model.DEFAULT_SCENARIO, 1_800_000_000.0)
    at = 1_800_000_000.0 - 3600
    rows = history.lag_history(model, at)
    expected = {
        (group, topic, str(p))
        for group, topics in kafka_layout.CONSUMER_GROUPS.items()
        for topic in topics
        for p in range(kafka_layout.TOPIC_BY_NAME[topic].partitions)
    }
    seen = set()
    totals: dict[str, int] = {}
    for series, value in rows:
        labels = dict(kv.split("=", 1) for kv in series.split("{", 1)[1].rstrip("}").split(","))
        assert series.startswith("kafka_consumergroup_lag{")
        assert labels["job"] == f'"{kafka_layout.EXPORTER_JOB}"'
        assert labels["instance"] == f'"{kafka_layout.EXPORTER_INSTANCE}"'
        group = labels["consumergroup"].strip('"')
        seen.add((group, labels["topic"].strip('"'), labels["partition"].strip('"')))
        totals[group] = totals.get(group, 0) + value
    assert seen == expected
    assert all(0 <= v <= 200 for v in totals.values()), totals  # Poisson around 20 per group
    # deterministic: a backfill rebuilt from the same scenario writes the same values
    assert history.lag_history(model, at) == rows
    # the simulator's live pages carry no invented lag
    assert "kafka_consumergroup_lag" not in sim_model.render_metrics(model, "feed-service", at)
