"""Nova's Kafka layout: its topics, the consumer group of each consuming service, and where the
lag exporter serves. Data only (no I/O), shared by the broker set-up (``kafka.py``), Nova's traffic
and exporter (``streams.py``) and the backfilled history (``history.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from nova_gate.sandbox import ports

DAY_MS = 24 * 3600 * 1000


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
#: the lag exporter, as Prometheus' job and instance labels (live scrapes and backfill alike)
EXPORTER_JOB = "kafka-exporter"
EXPORTER_INSTANCE = f"{ports.HOST}:{ports.KAFKA_EXPORTER}"
