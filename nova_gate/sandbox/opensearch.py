"""OpenSearch 2.19: one real node (HTTP 59200, transport 59300) started from Maven Central jars.

There is no distribution tarball: ``sandbox/opensearch`` is a small Maven project whose only class,
``SandboxNode``, subclasses ``org.opensearch.node.Node`` and hands its protected constructor the
netty4 transport plugin (``org.opensearch.transport.Netty4Plugin``, which provides both the HTTP
and the transport layer), the way OpenSearch's own test ``MockNode`` loads classpath plugins.
``mvn package`` builds it into ``~/.cache/nova-gate/opensearch/<version>/build`` together with every
runtime jar (server, Lucene, Log4j, Jackson, Netty). No modules and no security plugin are loaded,
so security is off; ``discovery.type: single-node``; data and logs live under .sandbox/opensearch.

Nova's indices (posts, users, hashtags) are created with 1 shard and 0 replicas, so the node is
green.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import httpx

from nova_gate.sandbox import ports
from nova_gate.sandbox.base import (
    Fault,
    Health,
    SandboxError,
    cache_dir,
    port_open,
    sandbox_data_dir,
    wait_for,
    wait_port,
)
from nova_gate.sandbox.jvm import JvmComponent, java_command

OPENSEARCH_VERSION = "2.19.6"
HEAP = "512m"
URL = f"http://{ports.HOST}:{ports.OPENSEARCH_HTTP}"
MAIN_CLASS = "dev.novagate.sandbox.SandboxNode"

INDICES: dict[str, dict[str, Any]] = {
    "posts": {
        "properties": {
            "post_id": {"type": "keyword"},
            "author_id": {"type": "keyword"},
            "content": {"type": "text"},
            "hashtags": {"type": "keyword"},
            "created_at": {"type": "date"},
        }
    },
    "users": {
        "properties": {
            "user_id": {"type": "keyword"},
            "username": {"type": "keyword"},
            "display_name": {"type": "text"},
            "bio": {"type": "text"},
            "created_at": {"type": "date"},
        }
    },
    "hashtags": {
        "properties": {
            "tag": {"type": "keyword"},
            "post_count": {"type": "long"},
        }
    },
}
SEED_DOCS: dict[str, list[dict[str, Any]]] = {
    "users": [
        {
            "user_id": "u1",
            "username": "ada",
            "display_name": "Ada",
            "bio": "engines",
            "created_at": "2026-01-02",
        },
        {
            "user_id": "u2",
            "username": "linus",
            "display_name": "Linus",
            "bio": "kernels",
            "created_at": "2026-02-03",
        },
    ],
    "posts": [
        {
            "post_id": "p1",
            "author_id": "u1",
            "content": "first post on nova",
            "hashtags": ["nova"],
            "created_at": "2026-03-01",
        },
        {
            "post_id": "p2",
            "author_id": "u2",
            "content": "release day",
            "hashtags": ["nova", "release"],
            "created_at": "2026-03-02",
        },
    ],
    "hashtags": [{"tag": "nova", "post_count": 2}, {"tag": "release", "post_count": 1}],
}

RED_INDEX = "nova-fault-red"
YELLOW_INDEX = "nova-fault-yellow"

OPENSEARCH_YML = """\
# Written by nova_gate/sandbox/opensearch.py on every start.
cluster.name: nova-sandbox
node.name: nova-search-1
path.data: {data}
path.logs: {logs}
network.host: {host}
http.port: {http}
transport.port: {transport}
discovery.type: single-node
action.auto_create_index: false
cluster.routing.allocation.disk.threshold_enabled: false
"""

LOG4J2 = """\
# OpenSearch logs through Log4j 2, configured by LogConfigurator from this directory.
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.deprecation.name = org.opensearch.deprecation
logger.deprecation.level = error
"""


class OpenSearch(JvmComponent):
    name = "opensearch"
    maven_project = "opensearch"
    java_package = "openjdk-17-jdk-headless"  # the launcher is compiled

    def __init__(self, root: Path | None = None) -> None:
        super().__init__(root)
        self.version = os.environ.get("NOVA_GATE_OPENSEARCH_VERSION", OPENSEARCH_VERSION)
        self.build = cache_dir() / "opensearch" / self.version / "build"

    # -- install --------------------------------------------------------------------------------
    @staticmethod
    def _source_hash() -> str:
        project = sandbox_data_dir() / "opensearch"
        digest = hashlib.sha256()
        for path in sorted([project / "pom.xml", *(project / "src").rglob("*.java")]):
            digest.update(path.relative_to(project).as_posix().encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()[:16]

    def _installed(self) -> bool:
        stamp = self.build / "source-hash"
        return (
            (self.build / "sandbox-node.jar").exists()
            and (self.build / "libs" / f"opensearch-{self.version}.jar").exists()
            and stamp.exists()
            and stamp.read_text().strip() == self._source_hash()
        )

    @property
    def build_dir(self) -> Path:
        return self.build

    def _maven_args(self, out: Path) -> list[str]:
        return [f"-Dopensearch.version={self.version}", f"-Dnova.build.dir={out}", "package"]

    def _after_build(self, out: Path) -> None:
        (out / "source-hash").write_text(self._source_hash())

    # -- lifecycle --------------------------------------------------------------------------------
    def _write_config(self) -> None:
        config = self.subdir("config")
        (self.dir / "data").mkdir(exist_ok=True)
        (self.dir / "logs").mkdir(exist_ok=True)
        (config / "opensearch.yml").write_text(
            OPENSEARCH_YML.format(
                data=self.dir / "data",
                logs=self.dir / "logs",
                host=ports.HOST,
                http=ports.OPENSEARCH_HTTP,
                transport=ports.OPENSEARCH_TRANSPORT,
            )
        )
        (config / "log4j2.properties").write_text(LOG4J2)

    def _argv(self) -> list[str]:
        options = [
            "-Dfile.encoding=UTF-8",
            "-Djna.nosys=true",
            "-Dio.netty.noUnsafe=true",
            "-Dio.netty.noKeySetOptimization=true",
            "-Dio.netty.recycler.maxCapacityPerThread=0",
            "-Dio.netty.allocator.numDirectArenas=0",
            "-Dlog4j.shutdownHookEnabled=false",
            "-Dlog4j2.disable.jmx=true",
            "-Djava.locale.providers=SPI,COMPAT",
            f"-Djava.io.tmpdir={self.dir / 'tmp'}",
        ]
        classpath = f"{self.build / 'sandbox-node.jar'}:{self.build / 'libs'}/*"
        return java_command(MAIN_CLASS, classpath, str(self.dir), heap_min=HEAP, heap_max=HEAP, options=options)

    def start(self) -> None:
        if not self._installed():
            raise SandboxError(f"opensearch: {self.build} missing or stale; run install first")
        self._write_config()
        (self.dir / "tmp").mkdir(exist_ok=True)
        self.spawn("opensearch", self._argv(), cwd=self.dir)
        wait_port(ports.OPENSEARCH_HTTP, "opensearch http", timeout=120)
        wait_for(lambda: self._status() in ("green", "yellow", "red"), "opensearch cluster health", timeout=60)
        for index, mappings in INDICES.items():
            self._ensure_index(index, mappings)
        wait_for(lambda: self._index_health(list(INDICES)) == "green", "nova indices green", timeout=60)

    def _ensure_index(self, index: str, mappings: dict[str, Any]) -> None:
        with httpx.Client(base_url=URL, timeout=30) as client:
            if client.head(f"/{index}").status_code == 200:
                return
            body = {"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": mappings}
            resp = client.put(f"/{index}", json=body)
            if resp.status_code >= 300 and "resource_already_exists_exception" not in resp.text:
                raise SandboxError(f"opensearch: creating index {index}: {resp.status_code} {resp.text[:300]}")
            docs = SEED_DOCS.get(index, [])
            if docs:
                lines = "".join(json.dumps({"index": {}}) + "\n" + json.dumps(doc) + "\n" for doc in docs)
                resp = client.post(
                    f"/{index}/_bulk?refresh=true",
                    content=lines.encode(),
                    headers={"content-type": "application/x-ndjson"},
                )
                if resp.status_code >= 300 or resp.json().get("errors"):
                    raise SandboxError(f"opensearch: seeding {index}: {resp.text[:300]}")

    def _status(self) -> str | None:
        try:
            resp = httpx.get(f"{URL}/_cluster/health", timeout=5)
            return str(resp.json().get("status")) if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def _index_health(self, indices: list[str]) -> str | None:
        try:
            resp = httpx.get(f"{URL}/_cluster/health/{','.join(indices)}", timeout=5)
            return str(resp.json().get("status")) if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None

    def health(self) -> Health:
        pids = self.pids()
        if not port_open(ports.OPENSEARCH_HTTP):
            return Health(False, URL, pids, "not listening")
        status = self._status()
        if status is None:
            return Health(False, URL, pids, "no answer from _cluster/health")
        nova = self._index_health(list(INDICES))
        detail = f"OpenSearch {self.version}, cluster {status}, nova indices {nova}"
        return Health(nova == "green", URL, pids, detail)

    def stop(self) -> None:
        super().stop()
        wait_for(lambda: not port_open(ports.OPENSEARCH_HTTP), "opensearch http closed", timeout=30)

    # -- faults ------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The cluster's status and every index's health, shards and replicas (not sizes or
        document counts); system indices (``.``-prefixed) are left out."""
        with httpx.Client(base_url=URL, timeout=10) as client:
            cluster = client.get("/_cluster/health").json()
            indices = client.get("/_cat/indices", params={"format": "json", "expand_wildcards": "open"}).json()
        return {
            **super().snapshot(),
            "status": cluster.get("status"),
            "indices": sorted(
                (i["index"], i["health"], i["pri"], i["rep"]) for i in indices if not i["index"].startswith(".")
            ),
        }

    def faults(self) -> list[Fault]:
        return [
            Fault(
                "search-index-red",
                f"index {RED_INDEX} requires node no-such-node: its primary is unassigned (red)",
                ("PRE-INF-6",),
                lambda: self._create_fault_index(
                    RED_INDEX, {"index.routing.allocation.require._name": "no-such-node"}, "red"
                ),
                lambda: self._delete_index(RED_INDEX),
                self.name,
            ),
            Fault(
                "search-index-yellow",
                f"index {YELLOW_INDEX} has 1 replica on a single node: the replica is unassigned (yellow)",
                ("PRE-INF-6",),
                lambda: self._create_fault_index(YELLOW_INDEX, {"number_of_replicas": 1}, "yellow"),
                lambda: self._delete_index(YELLOW_INDEX),
                self.name,
                expect="WARN",
            ),
        ]

    def _create_fault_index(self, index: str, settings: dict[str, Any], status: str) -> None:
        body = {"settings": {"number_of_shards": 1, "number_of_replicas": 0, **settings}}
        with httpx.Client(base_url=URL, timeout=30) as client:
            if client.head(f"/{index}").status_code != 200:
                resp = client.put(f"/{index}?wait_for_active_shards=0", json=body)
                if resp.status_code >= 300:
                    raise SandboxError(f"opensearch: creating {index}: {resp.status_code} {resp.text[:300]}")
        wait_for(lambda: self._index_health([index]) == status, f"index {index} {status}", timeout=30)

    def _delete_index(self, index: str) -> None:
        resp = httpx.delete(f"{URL}/{index}", timeout=30)
        if resp.status_code not in (200, 404):
            raise SandboxError(f"opensearch: deleting {index}: {resp.status_code} {resp.text[:300]}")
