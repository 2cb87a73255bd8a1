"""A Prometheus exporter of Kafka consumer lag, computed from the brokers' own offsets.

``python -m nova_gate.sandbox.lag_exporter --port 59308 --groups a,b --interval 5`` polls the
brokers with kafka-python's admin client (the same facts the gates read: committed offsets,
subscriptions, log-end and log-start offsets; :meth:`KafkaSource.consumer_group_lag`) and serves
the series a maintained exporter (danielqsj/kafka_exporter) serves, under the same names and labels:

- ``kafka_consumergroup_lag{consumergroup,topic,partition}``: log-end offset minus the committed
  offset; a partition of a group's topics it never committed counts from its log-start offset;
- ``kafka_consumergroup_current_offset{consumergroup,topic,partition}``: the committed offset;
- ``kafka_topic_partition_current_offset{topic,partition}``: the log-end offset;
- ``kafka_exporter_up`` (1: the last poll answered) and ``kafka_exporter_last_poll_timestamp_seconds``.

When a poll fails or is older than three intervals the lag series are left out (Prometheus then
records a gap, which the gates read as missing data, never as a lag of 0).

It logs in with its own SCRAM identity, which Kafka's ACLs allow only Describe on topics and groups
(``nova_gate/sandbox/kafka.py``); the password comes from ``NOVA_LAG_EXPORTER_PASSWORD``, never argv.
"""

from __future__ import annotations

import argparse
import http.server
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

PASSWORD_ENV = "NOVA_LAG_EXPORTER_PASSWORD"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(lag: dict[str, dict[str, Any]], polled_at: float | None, fresh: bool) -> str:
    """The /metrics page from ``{group: {"topic-partition": PartitionLag}}``."""
    lines = [
        "# HELP kafka_exporter_up 1 when the last poll of the brokers answered",
        "# TYPE kafka_exporter_up gauge",
        f"kafka_exporter_up {1 if fresh else 0}",
        "# HELP kafka_exporter_last_poll_timestamp_seconds when the brokers last answered a poll",
        "# TYPE kafka_exporter_last_poll_timestamp_seconds gauge",
        f"kafka_exporter_last_poll_timestamp_seconds {polled_at or 0:.3f}",
    ]
    if not fresh:
        return "\n".join(lines) + "\n"
    families: dict[str, list[str]] = {
        "kafka_consumergroup_lag": [],
        "kafka_consumergroup_current_offset": [],
        "kafka_topic_partition_current_offset": [],
    }
    ends: dict[tuple[str, str], int] = {}
    for group in sorted(lag):
        for tp, value in sorted(lag[group].items()):
            topic, _, partition = tp.rpartition("-")
            labels = f'consumergroup="{_escape(group)}",partition="{partition}",topic="{_escape(topic)}"'
            families["kafka_consumergroup_lag"].append(f"kafka_consumergroup_lag{{{labels}}} {int(value.lag)}")
            families["kafka_consumergroup_current_offset"].append(
                f"kafka_consumergroup_current_offset{{{labels}}} {int(value.committed)}"
            )
            ends[(topic, partition)] = int(value.end)
    for (topic, partition), end in sorted(ends.items()):
        families["kafka_topic_partition_current_offset"].append(
            f'kafka_topic_partition_current_offset{{partition="{partition}",topic="{_escape(topic)}"}} {end}'
        )
    kinds = {
        "kafka_consumergroup_lag": "Current approximate lag of a consumer group at topic/partition",
        "kafka_consumergroup_current_offset": "Current committed offset of a consumer group at topic/partition",
        "kafka_topic_partition_current_offset": "Current (log-end) offset of a broker at topic/partition",
    }
    for name, rows in families.items():
        lines += [f"# HELP {name} {kinds[name]}", f"# TYPE {name} gauge", *rows]
    return "\n".join(lines) + "\n"


class Poller:
    """Polls the brokers every ``interval`` s in a thread; keeps the last answer and its time."""

    def __init__(self, cfg: Any, groups: list[str], interval: float) -> None:
        self.cfg = cfg
        self.groups = groups
        self.interval = interval
        self.lock = threading.Lock()
        self.lag: dict[str, dict[str, Any]] = {}
        self.polled_at: float | None = None
        self.error: str | None = None

    def poll_once(self, source: Any) -> None:
        lag = source.consumer_group_lag(self.groups)
        with self.lock:
            self.lag, self.polled_at, self.error = lag, time.time(), None

    def run(self) -> None:
        from nova_gate.backends.base import SourceError
        from nova_gate.backends.kafka.source import KafkaSource

        source: Any = None
        while True:
            started = time.monotonic()
            try:
                if source is None:
                    source = KafkaSource(self.cfg)
                self.poll_once(source)
            except (SourceError, *getattr(source, "driver_errors", (OSError,))) as exc:
                with self.lock:
                    self.error = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                print(f"lag-exporter: poll failed: {self.error}", file=sys.stderr, flush=True)
                if source is not None:
                    source.close()
                source = None
            time.sleep(max(self.interval - (time.monotonic() - started), 0.2))

    def page(self) -> str:
        with self.lock:
            fresh = self.polled_at is not None and time.time() - self.polled_at <= 3 * self.interval
            return render(self.lag, self.polled_at, fresh and self.error is None)


def config(bootstrap: list[str], user: str, cafile: Path) -> Any:
    from pydantic import SecretStr

    from nova_gate.backends.kafka.config import Kafka

    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise SystemExit(f"lag-exporter: {PASSWORD_ENV} is not set")
    return Kafka(
        bootstrap_servers=bootstrap,
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        username=user,
        password=SecretStr(password),
        ssl_cafile=cafile,
        timeout_s=10,
    )


def serve(poller: Poller, port: int, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = poller.page().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return http.server.ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nova_gate.sandbox.lag_exporter")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--bootstrap", required=True, help="comma-separated host:port")
    parser.add_argument("--user", required=True)
    parser.add_argument("--cafile", type=Path, required=True)
    parser.add_argument("--groups", required=True, help="comma-separated consumer groups")
    parser.add_argument("--interval", type=float, default=5.0)
    args = parser.parse_args(argv)
    cfg = config(args.bootstrap.split(","), args.user, args.cafile)
    poller = Poller(cfg, [g for g in args.groups.split(",") if g], max(args.interval, 1.0))
    threading.Thread(target=poller.run, name="poll", daemon=True).start()
    server = serve(poller, args.port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
