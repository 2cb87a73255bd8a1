"""Nova's Kafka traffic and its lag exporter: real producers, real consumer groups, real offsets.

Two processes, started after Kafka:

- ``streams-apps`` (``python -m nova_gate.sandbox.streams apps``), as the services' user ``nova-app``:
  one producer writing every Nova topic at a Poisson rate (about ``RATE_PER_TOPIC`` messages/s) and
  one consumer per consuming service's group (``kafka.CONSUMER_GROUPS``), each polling, handling
  its records and committing their offsets, so that the groups' lag is what real consumers leave
  behind: a few messages, noisy. A control file (``.sandbox/streams/control.json``) stops a group's
  consumer (it leaves the group; the faults use it) or caps its rate (a slow consumer);
- ``streams-exporter`` (:mod:`nova_gate.sandbox.lag_exporter`) on ``ports.KAFKA_EXPORTER``: the lag
  of every group from the brokers' offsets, as ``kafka_consumergroup_lag``, logged in as
  ``nova-lag-exporter`` (Describe on topics and groups only). Prometheus scrapes it as the job
  ``kafka-exporter``; MON-7 reads that series over the stability window.

The window's past (before the last history load) is backfilled by :mod:`nova_gate.sandbox.history`
under the same series; everything after it is the exporter's scrapes of the real brokers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import threading
import time
import urllib.request
from typing import Any

from nova_gate.config import project_root
from nova_gate.sandbox import kafka, ports
from nova_gate.sandbox.base import Component, Fault, Health, SandboxError, port_open, wait_for
from nova_gate.sandbox.pki import sandbox_ca

APPS, EXPORTER = kafka.APPS_PROC, "streams-exporter"
JOB, INSTANCE = kafka.EXPORTER_JOB, kafka.EXPORTER_INSTANCE  # Prometheus' job and instance for the exporter
POLL_S = 5.0  # the exporter's poll of the brokers (Prometheus scrapes every 15 s)
RATE_PER_TOPIC = 1.5  # messages/s per topic, Poisson
#: kafka-consumer-slowed: the group's consumer handles at most this many messages/s, far below
#: what arrives on its topic (RATE_PER_TOPIC, plus SLOW_EXTRA_RATE the fault adds)
SLOW_GROUP, SLOW_TOPIC, SLOW_RATE, SLOW_EXTRA_RATE = "messaging-service-consumer", "messages", 0.3, 4.0
SLOW_PROC = "streams-slow-producer"


# -- the apps process -------------------------------------------------------------------------------
def _produce_forever(stop: threading.Event) -> None:
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    producer = KafkaProducer(
        **kafka.client_kwargs(kafka.APP_USER),
        client_id="nova-services-producer",
        acks=1,
        linger_ms=20,
        request_timeout_ms=15_000,
        max_block_ms=2_000,  # a topic that is gone (kafka-topic-missing) blocks a send this long
    )
    rng = random.Random()
    seq = 0
    tick = 0.2
    skip_until: dict[str, float] = {}
    try:
        while not stop.is_set():
            started = time.monotonic()
            for spec in kafka.TOPICS:
                if skip_until.get(spec.name, 0) > started:
                    continue
                # Poisson arrivals: the count per tick of a process of rate RATE_PER_TOPIC
                n, budget = 0, rng.expovariate(RATE_PER_TOPIC)
                while budget < tick:
                    n += 1
                    budget += rng.expovariate(RATE_PER_TOPIC)
                try:
                    for _ in range(n):
                        value = json.dumps({"seq": seq, "source": "nova-services", "ts": time.time()}).encode()
                        producer.send(spec.name, key=f"k-{seq % 97}".encode(), value=value)
                        seq += 1
                except KafkaError as exc:
                    print(f"streams: producing to {spec.name}: {type(exc).__name__}", file=sys.stderr, flush=True)
                    skip_until[spec.name] = time.monotonic() + 10
            time.sleep(max(tick - (time.monotonic() - started), 0.01))
    finally:
        producer.close(timeout=10)


def _consume_forever(group: str, topics: tuple[str, ...], stop: threading.Event) -> None:
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    rng = random.Random(group)
    consumer: Any = None
    while not stop.is_set():
        control = kafka.read_control()
        if group in control["stopped"]:
            if consumer is not None:
                with contextlib.suppress(KafkaError, OSError):
                    consumer.close()  # leaves the group (and commits nothing more)
                consumer = None
            time.sleep(0.5)
            continue
        try:
            if consumer is None:
                consumer = KafkaConsumer(
                    *topics,
                    **kafka.client_kwargs(kafka.APP_USER),
                    group_id=group,
                    client_id=f"nova-{group}",
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    session_timeout_ms=10_000,
                    heartbeat_interval_ms=3_000,
                    request_timeout_ms=30_000,
                )
            rate = control["rate"].get(group)
            limit = max(int(rate), 1) if rate else 200
            batch = consumer.poll(timeout_ms=500, max_records=limit)
            handled = 0
            for records in batch.values():
                for _record in records:
                    time.sleep(rng.expovariate(1 / 0.003))  # handling a message: ~3 ms
                    handled += 1
            if handled:
                consumer.commit()
                if rate:
                    time.sleep(handled / float(rate))
        except (KafkaError, OSError) as exc:
            print(f"streams: {group}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            if consumer is not None:
                with contextlib.suppress(KafkaError, OSError):
                    consumer.close()
            consumer = None
            time.sleep(2)
    if consumer is not None:
        consumer.close()


def run_apps() -> None:
    from nova_gate.backends.kafka.source import import_kafka

    import_kafka()
    stop = threading.Event()
    threads = [threading.Thread(target=_produce_forever, args=(stop,), name="producer", daemon=True)]
    threads += [
        threading.Thread(target=_consume_forever, args=(g, t, stop), name=g, daemon=True)
        for g, t in kafka.CONSUMER_GROUPS.items()
    ]
    for thread in threads:
        thread.start()
    try:
        while all(t.is_alive() for t in threads):
            time.sleep(1)
    finally:
        stop.set()
    dead = [t.name for t in threads if not t.is_alive()]
    raise SystemExit(f"streams: thread(s) ended: {', '.join(dead)}")


class Streams(Component):
    name = "streams"
    requires = ("kafka",)

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        if port_open(ports.KAFKA_EXPORTER) and not self.pid(EXPORTER):
            raise SandboxError(f"streams: port {ports.KAFKA_EXPORTER} already in use by another process")
        kafka.Kafka().ensure_identities()
        env = {"PYTHONUNBUFFERED": "1", "PYTHONPATH": str(project_root())}
        self.spawn(APPS, [sys.executable, "-m", "nova_gate.sandbox.streams", "apps"], cwd=project_root(), env=env)
        self.spawn(
            EXPORTER,
            [
                sys.executable,
                "-m",
                "nova_gate.sandbox.lag_exporter",
                "--port",
                str(ports.KAFKA_EXPORTER),
                "--bootstrap",
                ",".join(kafka.BOOTSTRAP),
                "--user",
                kafka.EXPORTER_USER,
                "--cafile",
                str(sandbox_ca().ensure()),
                "--groups",
                ",".join(kafka.CONSUMER_GROUPS),
                "--interval",
                str(POLL_S),
            ],
            cwd=project_root(),
            env={**env, "NOVA_LAG_EXPORTER_PASSWORD": kafka.passwords()[kafka.EXPORTER_USER]},
        )
        wait_for(lambda: self.health().healthy or len(self.pids()) < 2, "streams: exporter answering", timeout=90)
        if not self.health().healthy:
            raise SandboxError(f"streams: did not come up ({self.health().detail}); see {self.logs}")

    def stop(self) -> None:
        self.stop_process(SLOW_PROC, timeout=10)
        self.stop_process(APPS, timeout=20)
        self.stop_and_wait([ports.KAFKA_EXPORTER])

    def health(self) -> Health:
        endpoint = f"http://{INSTANCE}/metrics"
        pids = self.pids()
        if self.pid(APPS) is None:
            return Health(False, endpoint, pids, "producers/consumers not running")
        try:
            with urllib.request.urlopen(endpoint, timeout=3) as resp:
                page = resp.read().decode()
        except OSError as exc:
            return Health(False, endpoint, pids, f"exporter: {exc}")
        if "kafka_exporter_up 1" not in page:
            return Health(False, endpoint, pids, "exporter: no fresh poll of the brokers")
        groups = {line.split('consumergroup="', 1)[1].split('"', 1)[0] for line in page.splitlines()
                  if line.startswith("kafka_consumergroup_lag{")}  # fmt: skip
        stopped = kafka.read_control()["stopped"]
        detail = f"{len(kafka.CONSUMER_GROUPS)} consumer groups, lag of {len(groups)} exported"
        if stopped:
            detail += f"; stopped: {', '.join(stopped)}"
        return Health(True, endpoint, pids, detail)

    def snapshot(self) -> dict[str, Any]:
        control = kafka.read_control()
        return {**super().snapshot(), "stopped": sorted(control["stopped"]), "rate": control["rate"]}

    def faults(self) -> list[Fault]:
        return [
            Fault(
                "kafka-consumer-slowed",
                f"{SLOW_GROUP}'s consumer handles {SLOW_RATE} messages/s while {SLOW_TOPIC} receives "
                f"{RATE_PER_TOPIC + SLOW_EXTRA_RATE}/s: its lag grows far above its baseline, still under 1000",
                ("MON-7",),
                self._inject_slow,
                self._undo_slow,
                self.name,
            )
        ]

    def _inject_slow(self) -> None:
        kafka.cap_consumer(SLOW_GROUP, SLOW_RATE)
        self.spawn(
            SLOW_PROC,
            [sys.executable, "-m", "nova_gate.sandbox.kafka", "trickle", SLOW_TOPIC, "--rate", str(SLOW_EXTRA_RATE),
             "--seconds", "1800"],
            cwd=project_root(),
        )  # fmt: skip
        # Prometheus must hold the climb: two scrapes far above the group's limit (median + 100)
        kafka.wait_lag_scraped(SLOW_GROUP, 250, scrapes=2)

    def _undo_slow(self) -> None:
        self.stop_process(SLOW_PROC, timeout=10)
        kafka.start_consumer(SLOW_GROUP)
        wait_for(lambda: _exported_lag(SLOW_GROUP) < 50, f"{SLOW_GROUP} caught up", timeout=120, interval=2)
        kafka.forget_window()


def _exported_lag(group: str) -> float:
    """The group's total lag as the exporter serves it now."""
    with urllib.request.urlopen(f"http://{INSTANCE}/metrics", timeout=3) as resp:
        page = resp.read().decode()
    marker = f'kafka_consumergroup_lag{{consumergroup="{group}",'
    return sum(float(line.rsplit(" ", 1)[1]) for line in page.splitlines() if line.startswith(marker))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nova_gate.sandbox.streams")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("apps", help="Nova's producers and consumer groups")
    args = parser.parse_args(argv)
    if args.cmd == "apps":
        run_apps()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
