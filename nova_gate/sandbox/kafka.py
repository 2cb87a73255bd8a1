"""Apache Kafka 4.x in KRaft mode: three combined broker+controller nodes on loopback.

The broker comes from Maven Central (``org.apache.kafka:kafka_2.13`` and its runtime dependencies,
fetched by ``sandbox/kafka/pom.xml`` into ``~/.cache/nova-gate/kafka/<version>/libs``), so no
distribution tarball is needed. Each node has ``process.roles=broker,controller``; the quorum is
the static ``controller.quorum.voters`` list (Kafka 4.x still supports it; with it, ``StorageTool
format`` needs only ``--cluster-id`` and ``--config``, no ``--initial-controllers``).

On first start the sandbox creates Nova's topics (replication factor 3), produces a few messages
to each and commits offsets for one consumer group per consuming service, all with kafka-python.
Later starts only start the nodes: a fault injected before ``sandbox up`` stays injected (except
``kafka-node-down``, which a start heals by starting the node).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nova_gate.backends.kafka.source import import_kafka
from nova_gate.sandbox import ports
from nova_gate.sandbox.base import (
    Component,
    Fault,
    Health,
    SandboxError,
    apt_install,
    build_log,
    cache_dir,
    port_open,
    run,
    run_logged,
    sandbox_data_dir,
    wait_for,
    wait_port,
)

KAFKA_VERSION = "4.1.1"
HEAP = "384m"
NODE_IDS = (1, 2, 3)
DAY_MS = 24 * 3600 * 1000
T = TypeVar("T")


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    replication_factor: int = 3
    cleanup_policy: str = "delete"

    def configs(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


#: Nova's topics; environments/sandbox.yaml ``expectations.topics`` lists the same.
TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec("user-events", 6, 7 * DAY_MS),
    TopicSpec("content-events", 6, 7 * DAY_MS),
    TopicSpec("feed-updates", 6, 3 * DAY_MS),
    TopicSpec("messages", 6, 7 * DAY_MS),
    TopicSpec("notifications", 3, 7 * DAY_MS),
    TopicSpec("media-processing", 3, 7 * DAY_MS),
    TopicSpec("analytics-events", 6, 30 * DAY_MS),
)
TOPIC_BY_NAME = {t.name: t for t in TOPICS}

#: one consumer group per consuming service, and the topics it reads
CONSUMER_GROUPS: dict[str, tuple[str, ...]] = {
    "feed-service-consumer": ("content-events", "feed-updates"),
    "search-service-consumer": ("content-events", "user-events"),
    "messaging-service-consumer": ("messages",),
    "notification-service-consumer": ("notifications",),
    "media-service-consumer": ("media-processing",),
    "events-service-consumer": ("analytics-events",),
}
SEED_MESSAGES = 60  # per topic

# Faults
RETENTION_FAULT_TOPIC, RETENTION_FAULT_MS = "messages", 3_600_000  # 1 hour instead of 7 days
MISSING_FAULT_TOPIC = "media-processing"
STALL_TOPIC, STALL_GROUP = "notifications", "notification-service-consumer"
STALL_BURST = 5_000  # messages produced at once, >> the checklist's lag limit of 1000
STALL_TRICKLE_RATE = 20  # messages/s afterwards, so the lag keeps growing during a window
STALL_TRICKLE_MAX_S = 3_600
STALL_PROC = "kafka-stall-producer"
#: a partition the group never committed (its offset deleted) while messages arrive in it
UNCOMMITTED_GROUP, UNCOMMITTED_TOPIC, UNCOMMITTED_PARTITION = "events-service-consumer", "analytics-events", 2
UNCOMMITTED_MESSAGES = 1_500  # > the checklist's lag limit of 1000, all in that one partition

BOOTSTRAP = [f"{ports.HOST}:{p}" for p in ports.KAFKA_BROKERS]


def _admin(timeout_ms: int = 15_000) -> Any:
    import_kafka()
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        bootstrap_servers=BOOTSTRAP,
        client_id="nova-sandbox",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=5_000,
    )


@contextlib.contextmanager
def admin_client(timeout_ms: int = 15_000) -> Any:
    client = _admin(timeout_ms)
    try:
        yield client
    finally:
        client.close()


def produce(topic: str, count: int, *, prefix: str = "seed", partition: int | None = None) -> None:
    """Produce ``count`` small JSON messages to ``topic`` (or one ``partition``; acks=all) and wait for them."""
    import_kafka()
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=BOOTSTRAP,
        client_id="nova-sandbox-producer",
        acks="all",
        linger_ms=20,
        request_timeout_ms=15_000,
        max_block_ms=15_000,
    )
    # bytes, not key_serializer/value_serializer callables: kafka-python 3.x warns
    # DeprecationWarning for serializers that are plain functions.
    try:
        for i in range(count):
            value = json.dumps({"seq": i, "source": prefix, "ts": time.time()}).encode()
            producer.send(topic, key=f"{prefix}-{i % 97}".encode(), value=value, partition=partition)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)


def end_offsets(topics: list[str]) -> dict[Any, int]:
    """Latest offset of every partition of ``topics`` (KafkaConsumer.end_offsets)."""
    import_kafka()
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=BOOTSTRAP,
        client_id="nova-sandbox-offsets",
        enable_auto_commit=False,
        request_timeout_ms=15_000,
        bootstrap_timeout_ms=5_000,
    )
    try:
        tps = []
        for topic in topics:
            parts = consumer.partitions_for_topic(topic)
            if not parts:
                raise SandboxError(f"kafka: topic {topic} has no partitions in metadata")
            tps += [TopicPartition(topic, p) for p in sorted(parts)]
        result: dict[Any, int] = consumer.end_offsets(tps, timeout_ms=15_000)
        return result
    finally:
        consumer.close()


def retrying(fn: Callable[[], T], what: str, timeout: float = 60) -> T:
    """Call ``fn`` until it stops raising a retriable Kafka error (e.g. the coordinator is still
    being elected right after the cluster formed), for at most ``timeout`` seconds."""
    import_kafka()
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except KafkaError as exc:
            if not getattr(exc, "retriable", False) or time.monotonic() > deadline:
                raise SandboxError(f"kafka: {what}: {exc}") from exc
            time.sleep(1)


def commit_to_end(group: str, topics: list[str]) -> None:
    """Commit ``group``'s offsets at the end of every partition of ``topics`` (group must be empty)."""
    from kafka.structs import OffsetAndMetadata

    ends = end_offsets(topics)

    def commit() -> dict[Any, Any]:
        with admin_client() as admin:
            result: dict[Any, Any] = admin.alter_group_offsets(
                group, {tp: OffsetAndMetadata(off, "", -1) for tp, off in ends.items()}
            )
            return result

    errors = retrying(commit, f"commit offsets of {group}")
    bad = {str(tp): err.__name__ for tp, err in errors.items() if err.__name__ != "NoError"}
    if bad:
        raise SandboxError(f"kafka: committing offsets for {group} failed: {bad}")


def under_replicated() -> list[str]:
    """Partitions whose ISR is smaller than their replica set (or that have no leader)."""
    with admin_client() as admin:
        described = admin.describe_topics([t.name for t in TOPICS])
    bad = []
    # kafka-python 3.x returns the protocol's field names (name/partition_index/leader_id/
    # replica_nodes/isr_nodes), 2.x returned topic/partition/leader/replicas/isr.
    for topic in described:
        if topic.get("error_code", 0):
            bad.append(f"{topic.get('name')}: error {topic['error_code']}")
        for part in topic.get("partitions", []):
            if part.get("leader_id", -1) < 0 or sorted(part.get("isr_nodes", [])) != sorted(
                part.get("replica_nodes", [])
            ):
                bad.append(f"{topic.get('name')}-{part.get('partition_index')}")
    return bad


class Kafka(Component):
    name = "kafka"

    def __init__(self, root: Path | None = None) -> None:
        super().__init__(root)
        self.version = os.environ.get("NOVA_GATE_KAFKA_VERSION", KAFKA_VERSION)
        self.libs = cache_dir() / "kafka" / self.version / "libs"

    # -- install ------------------------------------------------------------------------------
    def _installed(self) -> bool:
        return (self.libs / f"kafka_2.13-{self.version}.jar").exists()

    def install(self) -> None:
        if self._installed():
            return
        if not shutil.which("java"):
            apt_install("openjdk-17-jre-headless")
        if not shutil.which("mvn"):
            apt_install("maven")
        tmp = self.libs.with_name("libs.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        run_logged(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(sandbox_data_dir() / "kafka" / "pom.xml"),
                f"-Dmaven.repo.local={cache_dir() / 'm2'}",
                f"-Dkafka.version={self.version}",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={tmp}",
            ],
            "kafka: Kafka jars from Maven Central",
            build_log("kafka-jars"),
            timeout=1200,
        )
        tmp.rename(self.libs)

    # -- configuration ------------------------------------------------------------------------
    def node_dir(self, node: int) -> Path:
        return self.dir / f"node-{node}"

    def _cluster_id(self) -> str:
        path = self.dir / "cluster-id"
        if path.exists():
            return path.read_text().strip()
        while True:  # Kafka's Uuid.randomUuid() also refuses ids that start with '-'
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            if not cid.startswith("-"):
                break
        self.dir.mkdir(parents=True, exist_ok=True)
        path.write_text(cid)
        return cid

    def _write_configs(self) -> None:
        voters = ",".join(f"{n}@{ports.HOST}:{port}" for n, port in zip(NODE_IDS, ports.KAFKA_CONTROLLERS, strict=True))
        for n, broker, controller in zip(NODE_IDS, ports.KAFKA_BROKERS, ports.KAFKA_CONTROLLERS, strict=True):
            nd = self.node_dir(n)
            (nd / "data").mkdir(parents=True, exist_ok=True)
            props = {
                "process.roles": "broker,controller",
                "node.id": n,
                "controller.quorum.voters": voters,
                "listeners": f"PLAINTEXT://{ports.HOST}:{broker},CONTROLLER://{ports.HOST}:{controller}",
                "advertised.listeners": f"PLAINTEXT://{ports.HOST}:{broker}",
                "controller.listener.names": "CONTROLLER",
                "inter.broker.listener.name": "PLAINTEXT",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "log.dirs": nd / "data",
                "num.partitions": 3,
                "default.replication.factor": 3,
                "min.insync.replicas": 2,
                "auto.create.topics.enable": "false",
                "offsets.topic.replication.factor": 3,
                "offsets.topic.num.partitions": 6,
                "transaction.state.log.replication.factor": 3,
                "transaction.state.log.min.isr": 2,
                "share.coordinator.state.topic.replication.factor": 3,
                "share.coordinator.state.topic.min.isr": 2,
                "group.initial.rebalance.delay.ms": 0,
                "num.network.threads": 2,
                "num.io.threads": 2,
                "background.threads": 2,
                "num.recovery.threads.per.data.dir": 1,
                "log.segment.bytes": 16 * 1024 * 1024,
                "log.retention.check.interval.ms": 300_000,
            }
            (nd / "server.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.dir / "log4j2.properties").write_text(LOG4J2)

    def _java(self, main: str, *args: str, heap: str = HEAP) -> list[str]:
        return [
            "java",
            "-Xms128m",
            f"-Xmx{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.logs}",
            "-cp",
            f"{self.libs}/*",
            main,
            *args,
        ]

    def _format(self, cluster_id: str) -> None:
        for n in NODE_IDS:
            nd = self.node_dir(n)
            meta = nd / "data" / "meta.properties"
            if meta.exists():
                if f"cluster.id={cluster_id}" not in meta.read_text():
                    raise SandboxError(f"kafka: {meta} belongs to another cluster; run `sandbox reset --only kafka`")
                continue
            run(
                self._java(
                    "kafka.tools.StorageTool",
                    "format",
                    "--cluster-id",
                    cluster_id,
                    "--config",
                    str(nd / "server.properties"),
                    "--ignore-formatted",
                    heap="256m",
                ),
                timeout=120,
            )

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if not self._installed():
            raise SandboxError(f"kafka: {self.libs} missing; run install first")
        self._write_configs()
        self._format(self._cluster_id())
        for n in NODE_IDS:
            self._start_node(n)
        for n, port in zip(NODE_IDS, ports.KAFKA_BROKERS, strict=True):
            wait_port(port, f"kafka node {n}", timeout=120)
        wait_for(
            lambda: self._broker_count() == len(NODE_IDS),
            "3 kafka brokers registered",
            timeout=120,
            interval=1,
        )
        marker = self.dir / "bootstrapped"
        if not marker.exists():
            self._bootstrap()
            marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        wait_for(lambda: not under_replicated(), "all kafka partitions fully replicated", timeout=120, interval=1)

    def _start_node(self, n: int) -> int:
        return self.spawn(f"kafka-{n}", self._java("kafka.Kafka", str(self.node_dir(n) / "server.properties")))

    def _broker_count(self) -> int:
        try:
            with admin_client(5_000) as admin:
                return len(admin.describe_cluster().get("brokers", []))
        except Exception:
            return 0

    def _bootstrap(self) -> None:
        """Create the topics, seed messages and commit one group per consuming service."""
        with admin_client(30_000) as admin:
            existing = set(admin.list_topics())
        for spec in TOPICS:
            if spec.name not in existing:
                self._create_topic(spec)
        for spec in TOPICS:
            produce(spec.name, SEED_MESSAGES)
        for group, topics in CONSUMER_GROUPS.items():
            commit_to_end(group, list(topics))

    def _create_topic(self, spec: TopicSpec) -> None:
        with admin_client(30_000) as admin:
            admin.create_topics(
                {
                    spec.name: {
                        "num_partitions": spec.partitions,
                        "replication_factor": spec.replication_factor,
                        "configs": spec.configs(),
                    }
                },
                timeout_ms=30_000,
                wait_for_metadata=True,
            )

    def health(self) -> Health:
        endpoint = ",".join(BOOTSTRAP)
        pids = self.pids()
        down = [n for n, p in zip(NODE_IDS, ports.KAFKA_BROKERS, strict=True) if not port_open(p)]
        if down:
            return Health(False, endpoint, pids, f"node(s) {down} not listening")
        brokers = self._broker_count()
        if brokers != len(NODE_IDS):
            return Health(False, endpoint, pids, f"{brokers} of {len(NODE_IDS)} brokers registered")
        return Health(True, endpoint, pids, f"Kafka {self.version} KRaft, {brokers} broker+controller nodes")

    def stop(self) -> None:
        self.stop_process(STALL_PROC, timeout=5)
        # Stop brokers one by one (controlled shutdown), node 3 first; the last one goes fast.
        for n in reversed(NODE_IDS):
            self.stop_process(f"kafka-{n}", timeout=30)
        super().stop()

    # -- faults -------------------------------------------------------------------------------------
    def faults(self) -> list[Fault]:
        return [
            Fault(
                "kafka-node-down",
                "Kafka node 3 (broker+controller) is stopped: partitions under-replicated",
                ("PRE-INF-4",),
                self._inject_node_down,
                self._undo_node_down,
                self.name,
            ),
            Fault(
                "kafka-retention-altered",
                f"retention.ms of topic {RETENTION_FAULT_TOPIC} is {RETENTION_FAULT_MS} (expected 7 days)",
                ("PRE-CFG-5",),
                lambda: self._set_retention(RETENTION_FAULT_MS),
                lambda: self._set_retention(TOPIC_BY_NAME[RETENTION_FAULT_TOPIC].retention_ms),
                self.name,
            ),
            Fault(
                "kafka-topic-missing",
                f"topic {MISSING_FAULT_TOPIC} is deleted",
                ("PRE-CFG-5", "PST-10"),
                self._inject_topic_missing,
                self._undo_topic_missing,
                self.name,
            ),
            Fault(
                "kafka-partition-never-committed",
                f"{UNCOMMITTED_GROUP} has no committed offset on {UNCOMMITTED_TOPIC}-{UNCOMMITTED_PARTITION} "
                f"(deleted) while {UNCOMMITTED_MESSAGES} messages arrive there",
                ("P24-5", "MON-7"),
                self._inject_uncommitted,
                lambda: commit_to_end(UNCOMMITTED_GROUP, list(CONSUMER_GROUPS[UNCOMMITTED_GROUP])),
                self.name,
            ),
            Fault(
                "kafka-consumer-stalled",
                f"{STALL_BURST} messages (then {STALL_TRICKLE_RATE}/s) produced to {STALL_TOPIC} while "
                f"{STALL_GROUP}'s committed offsets stay put",
                ("P24-5", "MON-7"),
                self._inject_stall,
                self._undo_stall,
                self.name,
            ),
        ]

    def _inject_node_down(self) -> None:
        self.stop_process("kafka-3", timeout=60)
        wait_for(lambda: bool(under_replicated()), "under-replicated partitions", timeout=60, interval=1)

    def _undo_node_down(self) -> None:
        self._start_node(3)
        wait_port(ports.KAFKA_BROKERS[2], "kafka node 3", timeout=120)
        wait_for(
            lambda: self._broker_count() == len(NODE_IDS),
            "3 kafka brokers registered",
            timeout=120,
            interval=1,
        )
        wait_for(lambda: not under_replicated(), "all kafka partitions fully replicated", timeout=180, interval=1)

    def _set_retention(self, retention_ms: int) -> None:
        from kafka.admin import ConfigResource, ConfigResourceType

        with admin_client() as admin:
            admin.alter_configs(
                [ConfigResource(ConfigResourceType.TOPIC, RETENTION_FAULT_TOPIC, {"retention.ms": str(retention_ms)})]
            )

    def _inject_topic_missing(self) -> None:
        with admin_client(30_000) as admin:
            admin.delete_topics([MISSING_FAULT_TOPIC], timeout_ms=30_000)

        def gone() -> bool:
            with admin_client() as admin:
                return MISSING_FAULT_TOPIC not in admin.list_topics()

        wait_for(gone, f"topic {MISSING_FAULT_TOPIC} deleted", timeout=60, interval=0.5)

    def _undo_topic_missing(self) -> None:
        with admin_client() as admin:
            present = MISSING_FAULT_TOPIC in admin.list_topics()
        if not present:
            self._create_topic(TOPIC_BY_NAME[MISSING_FAULT_TOPIC])
            produce(MISSING_FAULT_TOPIC, SEED_MESSAGES)
        # deleting a topic drops its committed offsets: re-commit the groups that read it
        for group, topics in CONSUMER_GROUPS.items():
            if MISSING_FAULT_TOPIC in topics:
                commit_to_end(group, list(topics))

    def _inject_uncommitted(self) -> None:
        from kafka import TopicPartition

        produce(UNCOMMITTED_TOPIC, UNCOMMITTED_MESSAGES, prefix="uncommitted", partition=UNCOMMITTED_PARTITION)
        tp = TopicPartition(UNCOMMITTED_TOPIC, UNCOMMITTED_PARTITION)

        def delete() -> dict[Any, Any]:
            with admin_client() as admin:
                result: dict[Any, Any] = admin.delete_group_offsets(UNCOMMITTED_GROUP, [tp])
                return result

        errors = retrying(delete, f"delete the offset of {UNCOMMITTED_GROUP} on {tp}")
        bad = {str(k): getattr(v, "__name__", str(v)) for k, v in (errors or {}).items()}
        bad = {k: v for k, v in bad.items() if v not in ("NoError", "None")}
        if bad:
            raise SandboxError(f"kafka: deleting the offset of {UNCOMMITTED_GROUP} failed: {bad}")

    def _inject_stall(self) -> None:
        produce(STALL_TOPIC, STALL_BURST, prefix="stall")
        self.spawn(
            STALL_PROC,
            [
                sys.executable,
                "-m",
                "nova_gate.sandbox.kafka",
                "trickle",
                STALL_TOPIC,
                "--rate",
                str(STALL_TRICKLE_RATE),
                "--seconds",
                str(STALL_TRICKLE_MAX_S),
            ],
        )

    def _undo_stall(self) -> None:
        self.stop_process(STALL_PROC, timeout=10)
        commit_to_end(STALL_GROUP, list(CONSUMER_GROUPS[STALL_GROUP]))


LOG4J2 = """\
# Kafka 4.x logs through Log4j 2; this file is passed with -Dlog4j2.configurationFile.
status = warn
name = nova-sandbox-kafka
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
"""


def _trickle(topic: str, rate: float, seconds: float) -> None:
    """Keep producing to ``topic`` at ``rate`` messages/s for at most ``seconds`` (a stalled consumer)."""
    import_kafka()
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=BOOTSTRAP,
        client_id="nova-sandbox-trickle",
        acks="all",
        linger_ms=50,
        request_timeout_ms=15_000,
        max_block_ms=15_000,
    )
    deadline = time.monotonic() + seconds
    seq = 0
    try:
        while time.monotonic() < deadline:
            producer.send(topic, key=f"trickle-{seq % 97}".encode(), value=json.dumps({"seq": seq}).encode())
            seq += 1
            time.sleep(1 / rate)
    finally:
        producer.close(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nova_gate.sandbox.kafka")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("trickle", help="produce slowly to a topic (used by kafka-consumer-stalled)")
    p.add_argument("topic")
    p.add_argument("--rate", type=float, default=STALL_TRICKLE_RATE)
    p.add_argument("--seconds", type=float, default=STALL_TRICKLE_MAX_S)
    args = parser.parse_args(argv)
    if args.cmd == "trickle":
        _trickle(args.topic, max(args.rate, 0.1), min(args.seconds, 6 * 3600))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
