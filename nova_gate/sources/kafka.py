"""Kafka facts through kafka-python's admin client: brokers, topics with configs, consumer lag.

Facts only; the rules in ``nova_gate.rules.kafka`` judge them. Written against kafka-python 3.x,
whose admin client returns the wire protocol's field names (``describe_topics`` gives ``name``,
``partition_index``, ``leader_id``, ``replica_nodes``, ``isr_nodes``) and has
``list_group_offsets``/``list_partition_offsets`` (2.x had ``list_consumer_group_offsets`` and no
offset listing); the older 2.x names are read too where it costs nothing.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from nova_gate.config import Kafka
from nova_gate.sources.base import Source

#: topic configs the checklist compares (PRE-CFG-5)
TOPIC_CONFIG_KEYS: tuple[str, ...] = ("retention.ms", "cleanup.policy")


@dataclass(frozen=True)
class BrokerFacts:
    node_id: int
    host: str
    port: int
    rack: str | None = None
    fenced: bool = False


@dataclass(frozen=True)
class PartitionFacts:
    partition: int
    leader: int  # -1: no leader
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    offline: tuple[int, ...] = ()

    @property
    def under_replicated(self) -> bool:
        return set(self.isr) != set(self.replicas)


@dataclass(frozen=True)
class TopicFacts:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)
    partition_details: tuple[PartitionFacts, ...] = ()


class PartitionLag(NamedTuple):
    committed: int
    end: int
    lag: int


def _get(d: Mapping[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if key in d:
            return d[key]
    return default


def import_kafka() -> tuple[type[BaseException], ...]:
    """Import kafka-python (once) and return its base error class with OSError/TimeoutError.

    kafka-python 3.x loads its protocol schemas with ``importlib.resources.read_text``, which warns
    DeprecationWarning from inside importlib on Python 3.11 (so pytest's ``ignore::...:kafka.*``
    filter does not match it and ``filterwarnings = error`` would fail the import). The warning is
    silenced here, for the import only.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import kafka
        import kafka.admin
        import kafka.errors
        import kafka.structs
    return (OSError, TimeoutError, kafka.errors.KafkaError)


class KafkaSource(Source):
    backend = "kafka"

    def __init__(self, cfg: Kafka) -> None:
        super().__init__()
        self.driver_errors = import_kafka()
        self.cfg = cfg
        self._admin: Any = None

    # -- connection -------------------------------------------------------------------------
    @property
    def admin(self) -> Any:
        if self._admin is None:
            timeout_ms = int(self.cfg.timeout_s * 1000)
            with self.call("connect"):
                from kafka import KafkaAdminClient

                self._admin = KafkaAdminClient(
                    bootstrap_servers=list(self.cfg.bootstrap_servers),
                    client_id="nova-gate",
                    request_timeout_ms=timeout_ms,
                    bootstrap_timeout_ms=timeout_ms,
                )
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            admin, self._admin = self._admin, None
            with contextlib.suppress(*self.driver_errors):
                admin.close()

    # -- facts --------------------------------------------------------------------------------
    def cluster(self) -> dict[str, Any]:
        """``describe_cluster()``: cluster_id, controller_id and brokers (raw)."""
        admin = self.admin
        with self.call("describe cluster"):
            info: dict[str, Any] = admin.describe_cluster()
        return info

    def brokers(self) -> list[BrokerFacts]:
        """The brokers registered in the cluster (unfenced and fenced), by node id."""
        info = self.cluster()
        out = [
            BrokerFacts(
                node_id=int(_get(b, "broker_id", "node_id")),
                host=str(b.get("host", "")),
                port=int(b.get("port", 0)),
                rack=b.get("rack"),
                fenced=bool(b.get("is_fenced", False)),
            )
            for b in info.get("brokers", [])
        ]
        return sorted(out, key=lambda b: b.node_id)

    def topic_names(self, include_internal: bool = False) -> list[str]:
        admin = self.admin
        with self.call("list topics"):
            names = [str(n) for n in admin.list_topics()]
        return sorted(n for n in names if include_internal or not n.startswith("__"))

    def topics(self, names: Iterable[str] | None = None) -> dict[str, TopicFacts]:
        """Facts for ``names`` (default: every non-internal topic). Topics that do not exist are
        simply absent from the result."""
        existing = set(self.topic_names(include_internal=True))
        wanted = sorted(existing if names is None else set(names) & existing)
        if names is None:
            wanted = [n for n in wanted if not n.startswith("__")]
        if not wanted:
            return {}
        admin = self.admin
        with self.call("describe topics"):
            described = admin.describe_topics(wanted)
        configs = self._topic_configs(wanted)
        out: dict[str, TopicFacts] = {}
        for topic in described:
            name = str(_get(topic, "name", "topic"))
            if topic.get("error_code", 0):
                # deleted between listing and describing: absent, like any missing topic
                continue
            parts = tuple(
                sorted(
                    (
                        PartitionFacts(
                            partition=int(_get(p, "partition_index", "partition")),
                            leader=int(_get(p, "leader_id", "leader", default=-1)),
                            replicas=tuple(int(r) for r in _get(p, "replica_nodes", "replicas", default=[])),
                            isr=tuple(int(r) for r in _get(p, "isr_nodes", "isr", default=[])),
                            offline=tuple(int(r) for r in _get(p, "offline_replicas", default=[])),
                        )
                        for p in topic.get("partitions", [])
                    ),
                    key=lambda p: p.partition,
                )
            )
            rf = max((len(p.replicas) for p in parts), default=0)
            out[name] = TopicFacts(name, len(parts), rf, configs.get(name, {}), parts)
        return out

    def _topic_configs(self, names: list[str]) -> dict[str, dict[str, str]]:
        from kafka.admin import ConfigResource, ConfigResourceType

        # config_filter="all": the default ("modified") leaves out keys at their default value,
        # e.g. cleanup.policy=delete when the topic was created without it.
        resources = [ConfigResource(ConfigResourceType.TOPIC, n, dict.fromkeys(TOPIC_CONFIG_KEYS)) for n in names]
        admin = self.admin
        with self.call("describe topic configs"):
            raw = admin.describe_configs(resources, config_filter="all")
        by_topic = raw.get("topic", raw.get("TOPIC", {})) if isinstance(raw, Mapping) else {}
        out: dict[str, dict[str, str]] = {}
        for name, entries in by_topic.items():
            out[str(name)] = {
                str(key): str(entry.get("value")) if isinstance(entry, Mapping) else str(entry)
                for key, entry in entries.items()
                if key in TOPIC_CONFIG_KEYS
            }
        return out

    def end_offsets(self, partitions: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
        from kafka import TopicPartition
        from kafka.admin import OffsetSpec

        specs = {TopicPartition(t, p): OffsetSpec.LATEST for t, p in partitions}
        if not specs:
            return {}
        admin = self.admin
        with self.call("list end offsets"):
            found = admin.list_partition_offsets(specs, timeout_ms=int(self.cfg.timeout_s * 1000))
        return {(tp.topic, tp.partition): int(o.offset) for tp, o in found.items()}

    def committed_offsets(self, groups: Iterable[str]) -> dict[str, dict[tuple[str, int], int]]:
        """Committed offset per partition of each group; a group without commits maps to {}."""
        wanted = list(dict.fromkeys(groups))
        if not wanted:
            return {}
        admin = self.admin
        with self.call("list group offsets"):
            raw = admin.list_group_offsets(dict.fromkeys(wanted))
        out: dict[str, dict[tuple[str, int], int]] = {}
        for group in wanted:
            offsets = raw.get(group) or {}
            out[group] = {
                (tp.topic, tp.partition): int(om.offset)
                for tp, om in offsets.items()
                if om is not None and om.offset is not None and om.offset >= 0
            }
        return out

    def consumer_group_lag(self, groups: Iterable[str]) -> dict[str, dict[str, PartitionLag]]:
        """{group: {"topic-partition": (committed, end, lag)}} over the partitions the group has
        committed; a group that never committed maps to {}."""
        committed = self.committed_offsets(groups)
        all_parts = sorted({tp for offsets in committed.values() for tp in offsets})
        ends = self.end_offsets(all_parts)
        out: dict[str, dict[str, PartitionLag]] = {}
        for group, offsets in committed.items():
            lags: dict[str, PartitionLag] = {}
            for (topic, partition), offset in sorted(offsets.items()):
                end = ends.get((topic, partition))
                if end is None:  # the topic was deleted after the commit
                    continue
                lags[f"{topic}-{partition}"] = PartitionLag(offset, end, max(end - offset, 0))
            out[group] = lags
        return out
