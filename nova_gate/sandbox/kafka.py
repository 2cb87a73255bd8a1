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

Locked as production locks Kafka: the client listener is SASL_SSL with SCRAM-SHA-512 users, the
certificates come from the sandbox's CA (``pki.py``; a PKCS12 keystore, the CA as a PEM truststore);
brokers and controllers talk to each other over mutual TLS (their certificate is their principal,
a super user), and KRaft's StandardAuthorizer denies whatever no ACL allows. Users, made or updated
at every start over the mutual-TLS listener with the sandbox's admin certificate:

- ``nova-sandbox-admin`` (super user): the sandbox's own steps — topics, seed messages, offsets, faults;
- ``nova-gate`` (environments/sandbox.yaml): Describe and DescribeConfigs on the cluster, topics and
  groups — enough to read metadata, configurations, end offsets and committed offsets, nothing else;
- ``nova-app``: the services' and smoke journey's user: read and write Nova's topics, its groups;
- ``nova-lag-exporter``: the consumer-lag exporter (``streams.py``): Describe on topics and groups only.

Nova's own traffic (a producer on every topic, a real consumer per group) runs in the ``streams``
component; the faults that need a group without members (offsets may only be changed then) stop
its consumer first and start it again on undo.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from nova_gate.backends.kafka.source import import_kafka
from nova_gate.sandbox import ports
from nova_gate.sandbox.base import (
    Fault,
    Health,
    SandboxError,
    cache_dir,
    ours_alive,
    port_open,
    read_pidfile,
    run,
    state_dir,
    wait_for,
    wait_port,
)
from nova_gate.sandbox.jvm import JvmComponent, java_command
from nova_gate.sandbox.kafka_layout import CONSUMER_GROUPS as CONSUMER_GROUPS
from nova_gate.sandbox.kafka_layout import DAY_MS as DAY_MS
from nova_gate.sandbox.kafka_layout import EXPORTER_INSTANCE as EXPORTER_INSTANCE
from nova_gate.sandbox.kafka_layout import EXPORTER_JOB as EXPORTER_JOB
from nova_gate.sandbox.kafka_layout import TOPIC_BY_NAME as TOPIC_BY_NAME
from nova_gate.sandbox.kafka_layout import TOPICS as TOPICS
from nova_gate.sandbox.kafka_layout import TopicSpec as TopicSpec
from nova_gate.sandbox.pki import sandbox_ca

KAFKA_VERSION = "4.1.1"
HEAP = "384m"
NODE_IDS = (1, 2, 3)
T = TypeVar("T")


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
INTERNAL = [f"{ports.HOST}:{p}" for p in ports.KAFKA_INTERNAL]

# Identities
SCRAM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192
BROKER_PRINCIPAL = "kafka-broker"  # CN of the brokers' certificate
ADMIN_USER = "nova-sandbox-admin"  # a super user (SCRAM on the client listener, a certificate on INTERNAL)
GATES_USER, GATES_PASSWORD_ENV, GATES_PASSWORD_DEFAULT = "nova-gate", "NOVA_GATE_KAFKA_PASSWORD", "sandbox-kafka-ro"
APP_USER = "nova-app"
EXPORTER_USER = "nova-lag-exporter"  # the lag exporter: Describe on topics and groups, nothing else


def _state() -> Path:
    from nova_gate.sandbox.base import state_dir

    return state_dir() / "kafka"


def passwords() -> dict[str, str]:
    """The SCRAM users' passwords: the gates' from the environment (its sandbox default), the
    others random, made once and kept 0600 in .sandbox/kafka/users.json."""
    path = _state() / "users.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for user in (ADMIN_USER, APP_USER, EXPORTER_USER):
        if not stored.get(user):
            stored[user], changed = secrets.token_urlsafe(24), True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        tmp.write_text(json.dumps(stored))
        tmp.chmod(0o600)
        tmp.rename(path)
    return {**stored, GATES_USER: os.environ.get(GATES_PASSWORD_ENV) or GATES_PASSWORD_DEFAULT}


def client_kwargs(user: str = ADMIN_USER) -> dict[str, Any]:
    """kafka-python settings for the client listener (SASL_SSL, SCRAM) as ``user``."""
    return {
        "bootstrap_servers": BOOTSTRAP,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": SCRAM,
        "sasl_plain_username": user,
        "sasl_plain_password": passwords()[user],
        "ssl_cafile": str(sandbox_ca().ensure()),
    }


def internal_kwargs() -> dict[str, Any]:
    """kafka-python settings for the mutual-TLS listener with the admin's certificate (user set-up)."""
    ca = sandbox_ca()
    pair = ca.client(ADMIN_USER)
    return {
        "bootstrap_servers": INTERNAL,
        "security_protocol": "SSL",
        "ssl_cafile": str(pair.ca),
        "ssl_certfile": str(pair.cert),
        "ssl_keyfile": str(pair.key),
    }


def _admin(timeout_ms: int = 15_000, internal: bool = False) -> Any:
    import_kafka()
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        **(internal_kwargs() if internal else client_kwargs()),
        client_id="nova-sandbox",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=5_000,
    )


@contextlib.contextmanager
def admin_client(timeout_ms: int = 15_000, internal: bool = False) -> Any:
    client = _admin(timeout_ms, internal)
    try:
        yield client
    finally:
        client.close()


def _producer(client_id: str, linger_ms: int) -> Any:
    """An admin KafkaProducer with acks=all that gives up after 15 s (the sandbox's seeding and faults)."""
    import_kafka()
    from kafka import KafkaProducer

    return KafkaProducer(
        **client_kwargs(),
        client_id=client_id,
        acks="all",
        linger_ms=linger_ms,
        request_timeout_ms=15_000,
        max_block_ms=15_000,
    )


def produce(topic: str, count: int, *, prefix: str = "seed", partition: int | None = None) -> None:
    """Produce ``count`` small JSON messages to ``topic`` (or one ``partition``; acks=all) and wait for them."""
    producer = _producer("nova-sandbox-producer", linger_ms=20)
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
        **client_kwargs(),
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


class Kafka(JvmComponent):
    name = "kafka"
    maven_project = "kafka"

    def __init__(self, root: Path | None = None) -> None:
        super().__init__(root)
        self.version = os.environ.get("NOVA_GATE_KAFKA_VERSION", KAFKA_VERSION)
        self.libs = cache_dir() / "kafka" / self.version / "libs"

    # -- install ------------------------------------------------------------------------------
    def _installed(self) -> bool:
        return (self.libs / f"kafka_2.13-{self.version}.jar").exists()

    @property
    def build_dir(self) -> Path:
        return self.libs

    def _maven_args(self, out: Path) -> list[str]:
        return [
            f"-Dkafka.version={self.version}",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={out}",
        ]

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

    def _tls_material(self) -> dict[str, str]:
        """The brokers' keystore (PKCS12 from the CA's PEM) and truststore (the CA's PEM)."""
        ca = sandbox_ca()
        pair = ca.server(BROKER_PRINCIPAL)
        pw_file = self.dir / "keystore-password"
        if not pw_file.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            pw_file.write_text(secrets.token_urlsafe(18))
            pw_file.chmod(0o600)
        password = pw_file.read_text().strip()
        keystore = ca.pkcs12(BROKER_PRINCIPAL, pair, password)
        return {
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(keystore),
            "ssl.keystore.password": password,
            "ssl.key.password": password,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(pair.ca),
            "ssl.endpoint.identification.algorithm": "https",
        }

    def _write_configs(self) -> None:
        voters = ",".join(f"{n}@{ports.HOST}:{port}" for n, port in zip(NODE_IDS, ports.KAFKA_CONTROLLERS, strict=True))
        tls = self._tls_material()
        nodes = zip(NODE_IDS, ports.KAFKA_BROKERS, ports.KAFKA_INTERNAL, ports.KAFKA_CONTROLLERS, strict=True)
        for n, broker, internal, controller in nodes:
            nd = self.node_dir(n)
            (nd / "data").mkdir(parents=True, exist_ok=True)
            props = {
                "process.roles": "broker,controller",
                "node.id": n,
                "controller.quorum.voters": voters,
                "listeners": f"SASL_SSL://{ports.HOST}:{broker},INTERNAL://{ports.HOST}:{internal},"
                f"CONTROLLER://{ports.HOST}:{controller}",
                "advertised.listeners": f"SASL_SSL://{ports.HOST}:{broker},INTERNAL://{ports.HOST}:{internal}",
                "controller.listener.names": "CONTROLLER",
                "inter.broker.listener.name": "INTERNAL",
                "listener.security.protocol.map": "CONTROLLER:SSL,INTERNAL:SSL,SASL_SSL:SASL_SSL",
                # brokers and controllers: mutual TLS, the certificate's CN is the principal
                "listener.name.internal.ssl.client.auth": "required",
                "listener.name.controller.ssl.client.auth": "required",
                "ssl.principal.mapping.rules": "RULE:^CN=([A-Za-z0-9._-]+)(,.*)?$/$1/,DEFAULT",
                # clients: SCRAM over TLS
                "sasl.enabled.mechanisms": SCRAM,
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                ),
                "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "super.users": f"User:{BROKER_PRINCIPAL};User:{ADMIN_USER}",
                "allow.everyone.if.no.acl.found": "false",
                **tls,
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
            path = nd / "server.properties"
            path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
            path.chmod(0o600)  # it holds the keystore password
        (self.dir / "log4j2.properties").write_text(LOG4J2)

    def _java(self, main: str, *args: str, heap: str = HEAP) -> list[str]:
        options = [
            "-XX:MaxGCPauseMillis=20",
            f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.logs}",
        ]
        return java_command(main, f"{self.libs}/*", *args, heap_min="128m", heap_max=heap, options=options)

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
            lambda: self._broker_count(internal=True) == len(NODE_IDS),
            "3 kafka brokers registered (mutual-TLS listener)",
            timeout=120,
            interval=1,
        )
        self.ensure_identities()
        wait_for(
            lambda: self._broker_count() == len(NODE_IDS),
            f"3 kafka brokers answering {ADMIN_USER} over SASL_SSL",
            timeout=60,
            interval=1,
        )
        marker = self.dir / "bootstrapped"
        if not marker.exists():
            self._bootstrap()
            marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        wait_for(lambda: not under_replicated(), "all kafka partitions fully replicated", timeout=120, interval=1)

    def _start_node(self, n: int) -> int:
        return self.spawn(f"kafka-{n}", self._java("kafka.Kafka", str(self.node_dir(n) / "server.properties")))

    def ensure_identities(self) -> None:
        """SCRAM users and their ACLs (idempotent), set over the mutual-TLS listener as the admin."""
        from kafka.admin import (
            ACL,
            ACLOperation,
            ACLPermissionType,
            ResourcePattern,
            ResourceType,
            ScramMechanism,
            UserScramCredentialUpsertion,
        )

        pw = passwords()
        upserts = [
            UserScramCredentialUpsertion(user, ScramMechanism.SCRAM_SHA_512, pw[user], iterations=SCRAM_ITERATIONS)
            for user in (ADMIN_USER, GATES_USER, APP_USER, EXPORTER_USER)
        ]

        def allow(user: str, kind: Any, name: str, *operations: Any) -> list[Any]:
            pattern = ResourcePattern(kind, name)
            return [ACL(f"User:{user}", "*", op, ACLPermissionType.ALLOW, pattern) for op in operations]

        op = ACLOperation
        acls = [
            # the gates: metadata, configurations, end offsets and committed offsets; no Read, no Write
            *allow(GATES_USER, ResourceType.CLUSTER, "kafka-cluster", op.DESCRIBE, op.DESCRIBE_CONFIGS),
            *allow(GATES_USER, ResourceType.TOPIC, "*", op.DESCRIBE, op.DESCRIBE_CONFIGS),
            *allow(GATES_USER, ResourceType.GROUP, "*", op.DESCRIBE),
            # the lag exporter: metadata, end and log-start offsets, groups' members and commits
            *allow(EXPORTER_USER, ResourceType.TOPIC, "*", op.DESCRIBE),
            *allow(EXPORTER_USER, ResourceType.GROUP, "*", op.DESCRIBE),
            # the services and the smoke journey: Nova's topics and groups
            *[a for t in TOPICS for a in allow(APP_USER, ResourceType.TOPIC, t.name, op.READ, op.WRITE, op.DESCRIBE)],
            *allow(APP_USER, ResourceType.GROUP, "*", op.READ, op.DESCRIBE),
            *allow(APP_USER, ResourceType.CLUSTER, "kafka-cluster", op.IDEMPOTENT_WRITE),  # idempotent producers
        ]

        def apply() -> None:
            with admin_client(30_000, internal=True) as admin:
                errors = {u: e for u, e in admin.alter_user_scram_credentials(upserts).items() if e}
                if errors:
                    raise SandboxError(f"kafka: SCRAM users: {errors}")
                result = admin.create_acls(acls)
                if result.get("failed"):
                    raise SandboxError(f"kafka: ACLs: {result['failed'][:3]}")

        retrying(apply, "SCRAM users and ACLs")

    def _broker_count(self, internal: bool = False) -> int:
        try:
            with admin_client(5_000, internal) as admin:
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
    def snapshot(self) -> dict[str, Any]:
        """Brokers, topics with their partitions, replicas and non-default configs, and for every
        consumer group the partitions it has an offset on and whether it is caught up (less than
        the checklist's 1000 behind: Nova's live traffic keeps a few messages in flight).
        Offsets and message counts are left out (every fault, the seed and the traffic move them)."""
        from kafka.admin import ConfigResource, ConfigResourceType

        def read() -> tuple[int, list[str], Any, Any, Any]:
            with admin_client() as admin:
                brokers = len(admin.describe_cluster().get("brokers", []))
                names = sorted(t for t in admin.list_topics() if not t.startswith("__"))
                described = admin.describe_topics(names)
                configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in names])
                raw = admin.list_group_offsets(dict.fromkeys(CONSUMER_GROUPS))
            return brokers, names, described, configs, raw

        # a retriable error is a passing state, not the cluster's: seen once in CI, a group coordinator
        # still loading __consumer_offsets (after its leader moved, as the brokers' automatic
        # preferred-leader election does minutes after a node comes back) made a snapshot an error
        brokers, names, described, configs, raw = retrying(read, "snapshot", timeout=30)
        groups = {
            g: {
                tp: om
                for tp, om in (raw.get(g) or {}).items()
                if om is not None and om.offset is not None and om.offset >= 0
            }
            for g in CONSUMER_GROUPS
        }
        topics = {
            t["name"]: sorted((p["partition_index"], len(p.get("replica_nodes", []))) for p in t.get("partitions", []))
            for t in described
        }
        # the topics' dynamic (non-default) configs, as kafka-python 3.x describes them
        topic_configs = {
            str(t): {str(k): str(e.get("value")) for k, e in entries.items()}
            for t, entries in (configs.get("topic", {}) if isinstance(configs, dict) else {}).items()
        }
        ends = end_offsets(names) if names else {}
        return {
            **super().snapshot(),
            "brokers": brokers,
            "under_replicated": under_replicated(),
            "topics": topics,
            "configs": topic_configs,
            "groups": {
                g: sorted(
                    (tp.topic, tp.partition, ends.get(tp, 0) - meta.offset < 1000) for tp, meta in offsets.items()
                )
                for g, offsets in groups.items()
            },
        }

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
                self._undo_uncommitted,
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
        readers = [g for g, topics in CONSUMER_GROUPS.items() if MISSING_FAULT_TOPIC in topics]
        with consumers_stopped(readers):
            for group in readers:
                commit_to_end(group, list(CONSUMER_GROUPS[group]))

    def _inject_uncommitted(self) -> None:
        from kafka import TopicPartition

        stop_consumer(UNCOMMITTED_GROUP)  # an offset of a group with members cannot be deleted
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
        if _running():  # the exporter runs with Nova's consumers: MON-7 reads its series
            wait_lag_scraped(UNCOMMITTED_GROUP, 1000)

    def _undo_uncommitted(self) -> None:
        commit_to_end(UNCOMMITTED_GROUP, list(CONSUMER_GROUPS[UNCOMMITTED_GROUP]))
        start_consumer(UNCOMMITTED_GROUP)
        forget_window()

    def _inject_stall(self) -> None:
        stop_consumer(STALL_GROUP)  # the service's consumer stops: its offsets stay put
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
        if _running():
            wait_lag_scraped(STALL_GROUP, 1000)

    def _undo_stall(self) -> None:
        self.stop_process(STALL_PROC, timeout=10)
        commit_to_end(STALL_GROUP, list(CONSUMER_GROUPS[STALL_GROUP]))
        start_consumer(STALL_GROUP)
        forget_window()


# -- Nova's consumers (the streams component) ------------------------------------------------------
#: the streams component's process running Nova's producer and consumers (streams.APPS)
APPS_PROC = "streams-apps"


def control_file() -> Path:
    return state_dir() / "streams" / "control.json"


def read_control() -> dict[str, Any]:
    try:
        data = json.loads(control_file().read_text())
    except (OSError, ValueError):
        return {"stopped": [], "rate": {}}
    return {"stopped": list(data.get("stopped") or []), "rate": dict(data.get("rate") or {})}


def _write_control(data: dict[str, Any]) -> None:
    path = control_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def _running() -> bool:
    """Whether Nova's consumers run (the streams component's apps process)."""
    record = read_pidfile(state_dir() / "pids" / f"{APPS_PROC}.pid")
    return record is not None and ours_alive(*record)


def group_members(group: str) -> int:
    with admin_client() as admin:
        raw = admin.describe_groups([group])
    description = raw.get(group) if isinstance(raw, dict) else None
    if description is None and isinstance(raw, list) and raw:
        description = raw[0]
    members = (description or {}).get("members") if isinstance(description, dict) else None
    return len(members or [])


def stop_consumer(group: str, timeout: float = 60) -> None:
    """Make ``group``'s consumer leave the group and wait until the group has no member."""
    data = read_control()
    if group not in data["stopped"]:
        data["stopped"].append(group)
        _write_control(data)
    if _running():
        wait_for(lambda: group_members(group) == 0, f"group {group} empty", timeout=timeout, interval=0.5)


def start_consumer(group: str, timeout: float = 60) -> None:
    data = read_control()
    data["stopped"] = [g for g in data["stopped"] if g != group]
    data["rate"].pop(group, None)
    _write_control(data)
    if _running():
        wait_for(lambda: group_members(group) > 0, f"group {group} consuming", timeout=timeout, interval=0.5)


def cap_consumer(group: str, rate: float) -> None:
    data = read_control()
    data["rate"][group] = rate
    _write_control(data)


@contextlib.contextmanager
def consumers_stopped(groups: list[str]) -> Iterator[None]:
    """Stop the groups' consumers for a change only an empty group accepts (offsets), then resume."""
    for group in groups:
        stop_consumer(group)
    try:
        yield
    finally:
        for group in groups:
            start_consumer(group)


def wait_lag_scraped(group: str, above: float, scrapes: int = 1, timeout: float = 180) -> None:
    """Wait until Prometheus itself has scraped ``group``'s lag (the exporter's series, summed over
    its partitions) above ``above`` in ``scrapes`` successive scrapes: the gates read Prometheus, so a
    lag fault is injected only once Prometheus holds it."""
    from nova_gate.sandbox import prometheus

    series = f'kafka_consumergroup_lag{{job="{EXPORTER_JOB}",consumergroup="{group}"}}'
    seen: list[float] = []

    def reached() -> bool:
        try:
            value = prometheus.query(f"sum({series})")
            stamp = prometheus.query(f"max(timestamp({series}))")
        except SandboxError:
            return False
        if not value or not stamp:
            return False
        lag, at = float(value[0]["value"][1]), float(stamp[0]["value"][1])
        if lag <= above:
            seen.clear()
        elif not seen or at > seen[-1]:
            seen.append(at)
        return len(seen) >= scrapes

    wait_for(reached, f"prometheus to scrape {group}'s lag above {above:g} {scrapes}x", timeout=timeout, interval=2)


def forget_window() -> None:
    """After a lag fault is undone its spike is still in every window that covers it (that is the
    point of judging a window): rebuild Prometheus' history from the active scenario, as a new
    sandbox would have it, so the healed gates judge a healthy window."""
    from nova_gate.sandbox import history

    data = history.active_scenario()
    if data is not None:
        history.load_raw(data["scenario"], log=lambda *_: None)


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
    producer = _producer("nova-sandbox-trickle", linger_ms=50)
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
