"""OpenSearch 2.19 with its security plugin: one real node (HTTPS 59200, TLS transport 59300).

There is no distribution tarball: ``sandbox/opensearch`` is a small Maven project whose only class,
``SandboxNode``, subclasses ``org.opensearch.node.Node`` and hands its protected constructor the
classpath plugins, the way OpenSearch's own test ``MockNode`` loads them: netty4
(``org.opensearch.transport.Netty4Plugin``, the HTTP and transport layers) and the security plugin
(``org.opensearch.security.OpenSearchSecurityPlugin``). ``mvn package`` builds it into
``~/.cache/nova-gate/opensearch/<version>/build`` with every runtime jar (server, Lucene, Log4j,
Jackson, Netty) in ``libs/`` and the security plugin's distribution zip (``org.opensearch.plugin:
opensearch-security``, whose newest release on Maven Central is 2.19.4.0: a plugin loads only into
its exact core version, hence the node's 2.19.4) unpacked in ``security/``. Its bundled jars join
the classpath where ``libs/`` lacks them (the same netty, transport-netty4 and jackson versions
are there already); its ``tools/securityadmin.sh`` is what applies the security configuration.

Locked as production locks it, with no demo certificate or demo configuration:

- HTTPS and node-to-node TLS with a certificate from the sandbox CA (``.sandbox/pki/opensearch.crt``,
  serverAuth and clientAuth: the node is its own transport peer, ``plugins.security.nodes_dn``);
- basic auth against the plugin's internal users, whose bcrypt hashes are written at each start
  from :mod:`nova_gate.sandbox.identities` (``config/opensearch-security/internal_users.yml`` in the
  state directory, mode 0600; never committed): ``nova-admin`` (``all_access``) for the sandbox's
  own set-up and faults, ``nova-gate`` (role ``nova_gate_ro``: ``cluster_monitor`` and, on every
  index, ``indices_monitor``; no document read, no write) for the gates;
- the security index is written by ``securityadmin`` (``org.opensearch.security.tools.SecurityAdmin``)
  with an admin client certificate (``CN=nova-search-admin``, ``plugins.security.authcz.admin_dn``)
  over the HTTPS port, after the node is up, at every start: a changed password takes effect.

``discovery.type: single-node``; data and logs live under .sandbox/opensearch. Nova's indices
(posts, users, hashtags) are created with 1 shard and 0 replicas, so the node is green.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from nova_gate.sandbox import identities, ports
from nova_gate.sandbox.base import (
    Fault,
    Health,
    SandboxError,
    cache_dir,
    port_open,
    sandbox_data_dir,
    state_dir,
    wait_for,
    wait_port,
)
from nova_gate.sandbox.jvm import JvmComponent, java_command

OPENSEARCH_VERSION = "2.19.4"
HEAP = "512m"
MAIN_CLASS = "dev.novagate.sandbox.SandboxNode"
SECURITY_PLUGIN = "org.opensearch.security.OpenSearchSecurityPlugin"
SECURITY_ADMIN = "org.opensearch.security.tools.SecurityAdmin"
#: the subject of the node's certificate (``plugins.security.nodes_dn``) and of the admin's
NODE_CN = "opensearch"
ADMIN_CERT_CN = "nova-search-admin"
#: the gates' role: what nova_gate/backends/search/source.py reads, nothing more
GATES_ROLE = "nova_gate_ro"


def url() -> str:
    return f"https://{ports.HOST}:{ports.OPENSEARCH_HTTP}"


URL = url()


def ca_context(root: Path | None = None) -> ssl.SSLContext:
    """Trust the sandbox CA only (hostname checked)."""
    return ssl.create_default_context(cafile=str((root or state_dir()) / "pki" / "ca.crt"))


def admin_client(timeout: float = 30, root: Path | None = None) -> httpx.Client:
    """An HTTPS client authenticated as the sandbox's own OpenSearch admin (never the gates')."""
    admin = identities.SEARCH_ADMIN
    return httpx.Client(
        base_url=url(), verify=ca_context(root), auth=(admin.user, admin.password), timeout=timeout
    )


def _artifact(jar: str) -> str:
    """``netty-codec-http-4.1.125.Final.jar`` -> ``netty-codec-http``."""
    match = re.match(r"^(.*?)-\d[^-]*(?:-[^-]+)?\.jar$", jar)
    return match.group(1) if match else jar


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

# The security plugin: TLS on both layers with the sandbox CA, never the demo certificates.
plugins.security.disabled: false
plugins.security.ssl.transport.pemcert_filepath: node.crt
plugins.security.ssl.transport.pemkey_filepath: node.key
plugins.security.ssl.transport.pemtrustedcas_filepath: ca.crt
plugins.security.ssl.transport.enforce_hostname_verification: true
plugins.security.ssl.http.enabled: true
plugins.security.ssl.http.pemcert_filepath: node.crt
plugins.security.ssl.http.pemkey_filepath: node.key
plugins.security.ssl.http.pemtrustedcas_filepath: ca.crt
# a client certificate is asked for but not required: only securityadmin presents one
plugins.security.ssl.http.clientauth_mode: OPTIONAL
plugins.security.nodes_dn: ["CN={node_cn}"]
plugins.security.authcz.admin_dn: ["CN={admin_cn}"]
plugins.security.allow_default_init_securityindex: false
plugins.security.allow_unsafe_democertificates: false
plugins.security.audit.type: noop
plugins.security.restapi.roles_enabled: []
plugins.security.system_indices.enabled: true
plugins.security.check_snapshot_restore_write_privileges: true
# field masking's salt: random, made once per state directory
plugins.security.compliance.salt: {salt}
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


def security_config(admin: identities.Identity, gates: identities.Identity) -> dict[str, dict[str, Any]]:
    """The security plugin's configuration files (``<name>.yml`` -> document), hashes made now."""

    def meta(kind: str) -> dict[str, Any]:
        return {"_meta": {"type": kind, "config_version": 2}}

    return {
        "config": {
            **meta("config"),
            "config": {
                "dynamic": {
                    "http": {"anonymous_auth_enabled": False, "xff": {"enabled": False}},
                    "authc": {
                        "basic_internal_auth_domain": {
                            "description": "HTTP basic auth against the internal users",
                            "http_enabled": True,
                            "transport_enabled": True,
                            "order": 0,
                            "http_authenticator": {"type": "basic", "challenge": True},
                            "authentication_backend": {"type": "intern"},
                        }
                    },
                    "authz": {},
                }
            },
        },
        "internal_users": {
            **meta("internalusers"),
            admin.user: {
                "hash": identities.bcrypt_hash(admin.password, rounds=12),
                "description": "the sandbox's own set-up and faults",
            },
            gates.user: {
                "hash": identities.bcrypt_hash(gates.password, rounds=12),
                "description": "nova-gate's probes: read-only monitor",
            },
        },
        "roles": {
            **meta("roles"),
            GATES_ROLE: {
                "description": "cluster and index health, shards, allocation explain; no documents, no writes",
                "cluster_permissions": ["cluster_monitor"],
                "index_permissions": [{"index_patterns": ["*"], "allowed_actions": ["indices_monitor"]}],
            },
        },
        "roles_mapping": {
            **meta("rolesmapping"),
            "all_access": {"reserved": True, "users": [admin.user]},
            GATES_ROLE: {"users": [gates.user]},
        },
        "action_groups": meta("actiongroups"),
        "tenants": meta("tenants"),
        "nodes_dn": meta("nodesdn"),
        "allowlist": {**meta("allowlist"), "config": {"enabled": False}},
        # the older name of the allowlist: securityadmin still uploads (and wants) both
        "whitelist": {**meta("whitelist"), "config": {"enabled": False}},
        "audit": {**meta("audit"), "config": {"enabled": False}},
    }


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
            and (self.build / "security" / f"opensearch-security-{self.version}.0.jar").exists()
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

    def classpath(self) -> str:
        """The launcher, ``libs/``, and the security plugin's jars that ``libs/`` lacks."""
        libs = sorted((self.build / "libs").glob("*.jar"))
        have = {_artifact(p.name) for p in libs}
        extra = [p for p in sorted((self.build / "security").glob("*.jar")) if _artifact(p.name) not in have]
        return ":".join(str(p) for p in [self.build / "sandbox-node.jar", *libs, *extra])

    # -- lifecycle --------------------------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        return self.dir / "config"

    @property
    def security_dir(self) -> Path:
        return self.config_dir / "opensearch-security"

    def _write_config(self) -> None:
        import shutil

        import yaml

        from nova_gate.sandbox.pki import sandbox_ca

        config = self.config_dir
        config.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(config, 0o700)  # what the security plugin asks of its config directory and files
        self._data_for_version()
        (self.dir / "logs").mkdir(exist_ok=True)
        ca = sandbox_ca(self.root)
        node = ca.server(NODE_CN)
        ca.client(ADMIN_CERT_CN)
        # the plugin reads its PEM files relative to the config directory
        for src, name in ((node.cert, "node.crt"), (node.key, "node.key"), (node.ca, "ca.crt")):
            target = config / name
            shutil.copyfile(src, target)
            os.chmod(target, 0o600)
        (config / "opensearch.yml").write_text(
            OPENSEARCH_YML.format(
                data=self.dir / "data",
                logs=self.dir / "logs",
                host=ports.HOST,
                http=ports.OPENSEARCH_HTTP,
                transport=ports.OPENSEARCH_TRANSPORT,
                node_cn=NODE_CN,
                admin_cn=ADMIN_CERT_CN,
                salt=self._salt(),
            )
        )
        (config / "log4j2.properties").write_text(LOG4J2)
        for name in ("opensearch.yml", "log4j2.properties"):
            os.chmod(config / name, 0o600)
        self.security_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.security_dir, 0o700)
        for name, doc in security_config(identities.SEARCH_ADMIN, identities.SEARCH_GATES).items():
            path = self.security_dir / f"{name}.yml"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write("# written by nova_gate/sandbox/opensearch.py at start\n")
                fh.write(yaml.safe_dump(doc, sort_keys=False))

    def _salt(self) -> str:
        import secrets

        path = self.dir / "compliance-salt"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(8))
        return path.read_text().strip()

    def _data_for_version(self) -> None:
        """A node refuses data written by a newer version (2.19.6 -> 2.19.4 is a downgrade): the
        sandbox's data is seeded at start, so data from another version is dropped and remade."""
        import shutil

        data, stamp = self.dir / "data", self.dir / "data-version"
        previous = stamp.read_text().strip() if stamp.exists() else None
        if previous != self.version and data.exists():
            shutil.rmtree(data)
        data.mkdir(parents=True, exist_ok=True)
        stamp.write_text(self.version + "\n")

    def _java_options(self) -> list[str]:
        return [
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

    def _argv(self) -> list[str]:
        return java_command(
            MAIN_CLASS,
            self.classpath(),
            str(self.dir),
            SECURITY_PLUGIN,
            heap_min=HEAP,
            heap_max=HEAP,
            options=self._java_options(),
        )

    def start(self) -> None:
        if not self._installed():
            raise SandboxError(f"opensearch: {self.build} missing or stale; run install first")
        self._write_config()
        (self.dir / "tmp").mkdir(exist_ok=True)
        self.spawn("opensearch", self._argv(), cwd=self.dir)
        wait_port(ports.OPENSEARCH_HTTP, "opensearch https", timeout=120)
        # any answer over HTTPS (503 "Security not initialized" at first): the node is up
        wait_for(lambda: self._answers(), "opensearch https answers", timeout=60)
        self.apply_security()
        wait_for(lambda: self._status() in ("green", "yellow", "red"), "opensearch cluster health", timeout=60)
        for index, mappings in INDICES.items():
            self._ensure_index(index, mappings)
        wait_for(lambda: self._index_health(list(INDICES)) == "green", "nova indices green", timeout=60)

    def apply_security(self, timeout: float = 180) -> None:
        """Write the security index from ``config/opensearch-security`` with the plugin's own tool.

        ``SecurityAdmin`` (what ``tools/securityadmin.sh`` runs) talks to the HTTPS port with the
        admin certificate; it is retried while it cannot reach the node or the cluster has not
        formed yet, and fails at once when the node refuses the configuration.
        """
        from nova_gate.sandbox.pki import pki_dir

        pki = pki_dir(self.root)
        argv = java_command(
            SECURITY_ADMIN,
            self.classpath(),
            "-cd", str(self.security_dir),
            "-icl",
            "-cacert", str(pki / "ca.crt"),
            "-cert", str(pki / f"{ADMIN_CERT_CN}.crt"),
            "-key", str(pki / f"{ADMIN_CERT_CN}.key"),
            "-h", ports.HOST,
            "-p", str(ports.OPENSEARCH_HTTP),
            heap_min="64m",
            heap_max="256m",
            options=[
                "-Dorg.apache.logging.log4j.simplelog.StatusLogger.level=OFF",
                f"-Djava.io.tmpdir={self.dir / 'tmp'}",
            ],
        )
        log = self.dir / "logs" / "securityadmin.log"
        deadline = time.monotonic() + timeout
        while True:
            try:
                with log.open("w") as out:
                    done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
            except subprocess.TimeoutExpired:
                raise SandboxError(f"opensearch: securityadmin still running after {timeout:.0f}s; see {log}") from None
            text = log.read_text(errors="replace")
            if done.returncode == 0 and "Done with success" in text:
                return
            if "Clusterstate:" in text or time.monotonic() > deadline:
                last = [line for line in text.splitlines() if line.strip()][-1:] or ["no output"]
                raise SandboxError(
                    f"opensearch: securityadmin failed (exit {done.returncode}): {last[0][:300]}; see {log}"
                )
            time.sleep(2)

    def _ensure_index(self, index: str, mappings: dict[str, Any]) -> None:
        with admin_client(30, self.root) as client:
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

    def _answers(self) -> bool:
        try:
            with admin_client(5, self.root) as client:
                client.get("/")
            return True
        except (httpx.HTTPError, OSError):
            return False

    def _get_status(self, path: str) -> str | None:
        try:
            with admin_client(5, self.root) as client:
                resp = client.get(path)
            return str(resp.json().get("status")) if resp.status_code == 200 else None
        except (httpx.HTTPError, ValueError, OSError):
            return None

    def _status(self) -> str | None:
        return self._get_status("/_cluster/health")

    def _index_health(self, indices: list[str]) -> str | None:
        return self._get_status(f"/_cluster/health/{','.join(indices)}")

    def health(self) -> Health:
        pids = self.pids()
        if not port_open(ports.OPENSEARCH_HTTP):
            return Health(False, url(), pids, "not listening")
        status = self._status()
        if status is None:
            return Health(False, url(), pids, "no answer from _cluster/health (HTTPS, admin)")
        nova = self._index_health(list(INDICES))
        detail = f"OpenSearch {self.version} (security plugin, TLS), cluster {status}, nova indices {nova}"
        return Health(nova == "green", url(), pids, detail)

    def stop(self) -> None:
        super().stop()
        wait_for(lambda: not port_open(ports.OPENSEARCH_HTTP), "opensearch https closed", timeout=30)

    # -- faults ------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The cluster's status and every index's health, shards and replicas (not sizes or
        document counts); system indices (``.``-prefixed) are left out."""
        with admin_client(10, self.root) as client:
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
        with admin_client(30, self.root) as client:
            if client.head(f"/{index}").status_code != 200:
                resp = client.put(f"/{index}?wait_for_active_shards=0", json=body)
                if resp.status_code >= 300:
                    raise SandboxError(f"opensearch: creating {index}: {resp.status_code} {resp.text[:300]}")
        wait_for(lambda: self._index_health([index]) == status, f"index {index} {status}", timeout=30)

    def _delete_index(self, index: str) -> None:
        with admin_client(30, self.root) as client:
            resp = client.delete(f"/{index}")
        if resp.status_code not in (200, 404):
            raise SandboxError(f"opensearch: deleting {index}: {resp.status_code} {resp.text[:300]}")
