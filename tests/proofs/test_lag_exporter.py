"""The sandbox's consumer lag is real: Nova's consumers commit, the exporter reads the brokers'
offsets with a Describe-only identity, Prometheus has its series for every group (MON-7's input).

The faults that make that lag grow (kafka-consumer-stalled, kafka-consumer-slowed,
kafka-partition-never-committed) are proven by tests/proofs/test_faults.py like every fault.
"""

from __future__ import annotations

import time
import urllib.request
from typing import Any

import pytest

from nova_gate.sandbox import kafka as sk
from nova_gate.sandbox import kafka_layout


def _page() -> str:
    with urllib.request.urlopen(f"http://{kafka_layout.EXPORTER_INSTANCE}/metrics", timeout=5) as resp:
        return resp.read().decode()


def _exported(page: str) -> dict[str, dict[str, float]]:
    """{family: {group: total}} of the exporter's per-partition series."""
    out: dict[str, dict[str, float]] = {}
    for line in page.splitlines():
        if line.startswith("kafka_consumergroup_") and 'consumergroup="' in line:
            family = line.split("{", 1)[0]
            group = line.split('consumergroup="', 1)[1].split('"', 1)[0]
            out.setdefault(family, {}).setdefault(group, 0.0)
            out[family][group] += float(line.rsplit(" ", 1)[1])
    return out


def test_consumers_commit_and_the_exporter_sees_every_group() -> None:
    first = _exported(_page())
    assert set(first["kafka_consumergroup_lag"]) == set(kafka_layout.CONSUMER_GROUPS)
    time.sleep(12)  # two polls of the exporter: the consumers committed the traffic since
    second = _exported(_page())
    moved = [g for g in kafka_layout.CONSUMER_GROUPS if second["kafka_consumergroup_current_offset"][g]
             > first["kafka_consumergroup_current_offset"][g]]  # fmt: skip
    assert moved == list(kafka_layout.CONSUMER_GROUPS), f"groups whose committed offset did not move: {moved}"
    assert all(v < 200 for v in second["kafka_consumergroup_lag"].values()), second["kafka_consumergroup_lag"]


def test_prometheus_scrapes_the_exporter_for_every_group() -> None:
    from nova_gate.backends.prometheus.config import Prometheus as PromConfig
    from nova_gate.backends.prometheus.source import PrometheusSource
    from nova_gate.config import load_environment

    env = load_environment("sandbox").env
    cfg: Any = env.backends.prometheus
    assert isinstance(cfg, PromConfig)
    source = PrometheusSource(cfg)
    try:
        now = time.time()
        series = source.range_by(env.metrics.consumer_lag, now - 120, now, 15, by=("consumergroup",))
    finally:
        source.close()
    groups = {k[0] for k, points in series.items() if k[0] and any(v is not None for _, v in points[-3:])}
    assert groups == set(env.expectations.consumer_groups)


def test_exporter_identity_may_only_describe() -> None:
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
    from kafka.admin import ConfigResource, ConfigResourceType
    from kafka.errors import KafkaError

    kwargs = sk.client_kwargs(sk.EXPORTER_USER)
    admin = KafkaAdminClient(**kwargs, request_timeout_ms=10_000, bootstrap_timeout_ms=6_000)
    try:
        assert admin.list_group_offsets("feed-service-consumer")
        answer = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "messages")])
        assert "retention.ms" not in str(answer) or "uthoriz" in str(answer)
    except KafkaError as exc:  # DescribeConfigs denied outright
        assert "uthoriz" in repr(exc)
    finally:
        admin.close()
    producer = KafkaProducer(**kwargs, max_block_ms=8_000, request_timeout_ms=8_000)
    try:
        with pytest.raises(KafkaError):
            producer.send("messages", b"must not be written").get(timeout=15)
    finally:
        producer.close(timeout=5)
    consumer = KafkaConsumer(
        "messages", **kwargs, group_id="nova-lag-exporter-must-not-read", consumer_timeout_ms=8_000
    )
    try:
        with pytest.raises(KafkaError):
            for _ in range(3):
                consumer.poll(timeout_ms=3_000)
                consumer.commit()
    finally:
        consumer.close()
