"""Redis 7: a standalone server on 56379 (allkeys-lru, 256 MB) and a 3-master cluster on 57001-57003.

The cluster bus of a node defaults to its port + 10000, which is past 65535 for 57001; the nodes
set ``cluster-port`` to port + :data:`CLUSTER_BUS_OFFSET` instead (57101-57103). The cluster is
created once with ``redis-cli --cluster create``; later starts reuse each node's nodes.conf.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nova_gate.sandbox import identities, ports
from nova_gate.sandbox.base import (
    Component,
    Fault,
    Health,
    SandboxError,
    run,
    state_dir,
    wait_for,
    wait_port,
)

if TYPE_CHECKING:
    from nova_gate.sandbox.pki import CertPair

MAXMEMORY = "256mb"
MAXMEMORY_POLICY = "allkeys-lru"
CLUSTER_BUS_OFFSET = 100
NODE_TIMEOUT_MS = 3000
DOWN_NODE = ports.REDIS_CLUSTER[-1]
SEED_KEYS = {
    "nova:feature:feed_ranking_v2": "on",
    "nova:feature:dm_reactions": "off",
    "nova:ratelimit:auth:login:203.0.113.7": "3",
    "nova:session:sandbox-smoke": '{"user_id": 1, "ttl": 3600}',
    "nova:feed:cache:user:1": "[901, 899, 897]",
}


#: the read commands the gates use (nova_gate's Redis source), and nothing else: no key access.
#: (redis-py 5 also sends CLIENT SETINFO, which Redis 7.0 does not know; it ignores the refusal.)
GATES_COMMANDS = (
    "+ping", "+info", "+config|get", "+cluster|info", "+cluster|nodes", "+cluster|slots", "+cluster|shards",
    "+dbsize",
)


def pki() -> Path:
    return state_dir() / "pki"


def acl_lines() -> list[str]:
    """The ACL file: default off, the sandbox's admin, the gates (read-only), the app (its keys)."""
    a, g, app = identities.REDIS_ADMIN, identities.REDIS_GATES, identities.REDIS_APP
    return [
        "user default off resetkeys resetchannels -@all",
        f"user {a.user} on #{a.sha256()} ~* &* +@all",
        f"user {g.user} on #{g.sha256()} resetkeys resetchannels -@all {' '.join(GATES_COMMANDS)}",
        f"user {app.user} on #{app.sha256()} ~nova:* resetchannels -@all +@read +@write +@keyspace +@string "
        "+@hash +@list +@set +@sortedset +@connection +@transaction -@dangerous",
    ]


def cli(port: int, *args: str, timeout: float = 10) -> str:
    """redis-cli as the sandbox's admin, over TLS with the sandbox CA."""
    env = {**os.environ, "REDISCLI_AUTH": identities.REDIS_ADMIN.password}
    tls = ["--tls", "--cacert", str(pki() / "ca.crt"), "--user", identities.REDIS_ADMIN.user]
    return run(["redis-cli", *tls, "-h", ports.HOST, "-p", str(port), *args], timeout=timeout, env=env).strip()


def _ping(port: int) -> bool:
    try:
        return cli(port, "PING", timeout=3) == "PONG"
    except SandboxError:
        return False


def cluster_info(port: int) -> dict[str, str]:
    out = {}
    for line in cli(port, "CLUSTER", "INFO", timeout=3).splitlines():
        key, _, value = line.strip().partition(":")
        out[key] = value
    return out


def _cluster_state(port: int) -> str:
    try:
        return cluster_info(port).get("cluster_state", "")
    except SandboxError:
        return ""


class RedisServers(Component):
    name = "redis"

    apt_packages = (("redis-server", "redis-server"), ("redis-cli", "redis-tools"))

    # -- processes --------------------------------------------------------------------------
    def _start_standalone(self) -> None:
        data = self.subdir("standalone")
        self._spawn_server(
            "redis-standalone",
            ports.REDIS,
            [
                "--dir",
                str(data),
                "--maxmemory",
                MAXMEMORY,
                "--maxmemory-policy",
                MAXMEMORY_POLICY,
                "--save",
                "",
                "--appendonly",
                "no",
            ],
        )

    def _start_node(self, port: int) -> None:
        data = self.subdir(f"cluster-{port}")
        self._spawn_server(
            f"redis-cluster-{port}",
            port,
            [
                "--dir",
                str(data),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-port",
                str(port + CLUSTER_BUS_OFFSET),
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxmemory",
                MAXMEMORY,
                "--maxmemory-policy",
                MAXMEMORY_POLICY,
            ],
        )

    def _spawn_server(self, proc: str, port: int, extra: list[str]) -> None:
        if self.running(proc, port):
            wait_port(port, proc, timeout=30)
            return
        pair = self._tls()
        self.spawn(
            proc,
            [
                "redis-server",
                "--bind",
                ports.HOST,
                # TLS only: the plaintext port is off, the fixed port speaks TLS (cluster bus too)
                "--port",
                "0",
                "--tls-port",
                str(port),
                "--tls-cert-file",
                str(pair.cert),
                "--tls-key-file",
                str(pair.key),
                "--tls-ca-cert-file",
                str(pair.ca),
                "--tls-auth-clients",
                "optional",
                "--tls-replication",
                "yes",
                *(["--tls-cluster", "yes"] if "--cluster-enabled" in extra else []),
                "--aclfile",
                str(self.dir / "users.acl"),
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--loglevel",
                "notice",
                *extra,
            ],
        )
        wait_for(lambda: _ping(port), f"{proc} on port {port}", timeout=30)

    def _tls(self) -> CertPair:
        from nova_gate.sandbox.pki import sandbox_ca

        return sandbox_ca(self.root).server("redis")

    def _write_acl(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.dir / "users.acl"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("\n".join(acl_lines()) + "\n")

    def start(self) -> None:
        self._write_acl()
        self._start_standalone()
        for port in ports.REDIS_CLUSTER:
            self._start_node(port)
        if all(cluster_info(p).get("cluster_slots_assigned") == "0" for p in ports.REDIS_CLUSTER):
            run(
                [
                    "redis-cli",
                    "--tls",
                    "--cacert",
                    str(pki() / "ca.crt"),
                    "--user",
                    identities.REDIS_ADMIN.user,
                    "--cluster",
                    "create",
                    *(f"{ports.HOST}:{p}" for p in ports.REDIS_CLUSTER),
                    "--cluster-replicas",
                    "0",
                    "--cluster-yes",
                ],
                timeout=60,
                env={**os.environ, "REDISCLI_AUTH": identities.REDIS_ADMIN.password},
            )
        wait_for(
            lambda: all(_cluster_state(p) == "ok" for p in ports.REDIS_CLUSTER),
            "redis cluster_state:ok",
            timeout=60,
        )
        self._seed()
        cli(ports.REDIS_CLUSTER[0], "-c", "SET", "nova:cluster:probe", "ok")

    def _seed(self) -> None:
        for key, value in SEED_KEYS.items():
            cli(ports.REDIS, "SET", key, value)
        cli(ports.REDIS, "EXPIRE", "nova:session:sandbox-smoke", "86400")

    def health(self) -> Health:
        endpoint = f"rediss://{ports.HOST}:{ports.REDIS}/0 + cluster {','.join(map(str, ports.REDIS_CLUSTER))}"
        problems = [f"{p}: no PONG" for p in (ports.REDIS, *ports.REDIS_CLUSTER) if not _ping(p)]
        if not problems:
            problems += [
                f"{p}: cluster_state {_cluster_state(p) or '?'}"
                for p in ports.REDIS_CLUSTER
                if _cluster_state(p) != "ok"
            ]
        return Health(not problems, endpoint, self.pids(), "; ".join(problems) or "standalone + cluster ok")

    # -- faults -----------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Standalone: memory settings, db0's keys with their types; cluster: each node's state,
        slots and the nodes it knows (addresses, roles; not ids or epochs). TTLs are left out, so
        are the sessions the smoke journey logs in with (``nova:session:<uuid>``, traffic)."""
        import re

        traffic = re.compile(r"nova:session:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        keys = sorted(k for k in cli(ports.REDIS, "-n", "0", "--scan").split() if not traffic.fullmatch(k))
        cluster = {}
        for port in ports.REDIS_CLUSTER:
            info = cluster_info(port)
            known = sorted(
                " ".join(
                    [line.split()[1].split("@")[0], ",".join(sorted(set(line.split()[2].split(",")) - {"myself"}))]
                )
                for line in cli(port, "CLUSTER", "NODES").splitlines()
                if line.strip()
            )
            cluster[str(port)] = {
                "state": info.get("cluster_state"),
                "slots_ok": info.get("cluster_slots_ok"),
                "known": known,
            }
        return {
            **super().snapshot(),
            "config": {k: cli(ports.REDIS, "CONFIG", "GET", k).split()[1:] for k in ("maxmemory", "maxmemory-policy")},
            "keys": {k: cli(ports.REDIS, "-n", "0", "TYPE", k).strip() for k in keys},
            "cluster": cluster,
        }

    def faults(self) -> list[Fault]:
        return [
            Fault(
                "redis-maxmemory-zero",
                "the standalone Redis has maxmemory 0 (unbounded)",
                ("PRE-CFG-6",),
                lambda: self._set_maxmemory("0"),
                lambda: self._set_maxmemory(MAXMEMORY),
                self.name,
            ),
            Fault(
                "redis-cluster-node-down",
                f"cluster node {DOWN_NODE} is stopped (slots uncovered)",
                ("PRE-INF-3",),
                self._node_down,
                self._node_up,
                self.name,
            ),
            Fault(
                "redis-keyspace-flushed",
                "the standalone Redis db0 is flushed (INFO keyspace empty); undo re-seeds it",
                ("PST-8",),
                lambda: cli(ports.REDIS, "-n", "0", "FLUSHDB"),
                self._seed,
                self.name,
            ),
        ]

    def _set_maxmemory(self, value: str) -> None:
        cli(ports.REDIS, "CONFIG", "SET", "maxmemory", value)

    def _node_down(self) -> None:
        self.stop_process(f"redis-cluster-{DOWN_NODE}")
        others = [p for p in ports.REDIS_CLUSTER if p != DOWN_NODE]
        # the surviving masters mark it FAIL after the node timeout; then the cluster is down
        wait_for(
            lambda: all(_cluster_state(p) == "fail" for p in others),
            "redis cluster_state:fail",
            timeout=NODE_TIMEOUT_MS / 1000 * 4 + 10,
        )

    def _node_up(self) -> None:
        self._start_node(DOWN_NODE)
        wait_for(
            lambda: all(_cluster_state(p) == "ok" for p in ports.REDIS_CLUSTER),
            "redis cluster_state:ok",
            timeout=60,
        )
