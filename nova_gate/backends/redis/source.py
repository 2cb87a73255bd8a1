"""Redis facts through redis-py: CONFIG GET, INFO sections, CLUSTER INFO, per node.

Every connection has socket and connect timeouts and no retries, so an unreachable node fails
within ``timeout_s``; facts only, the rules in ``nova_gate.backends.redis.rules`` judge them.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

from nova_gate.auth import read_secret
from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.redis.config import Redis
from nova_gate.backends.redis.facts import MemoryFacts, NodeFacts


class RedisSource(Source):
    backend = "redis"

    def __init__(self, cfg: Redis) -> None:
        super().__init__()
        import redis

        self.cfg = cfg
        self.driver_errors = (redis.RedisError, OSError)
        self._clients: dict[str, Any] = {}
        parts = urlsplit(cfg.url)
        self.address = f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"
        path = (parts.path or "/").strip("/")
        self.db = int(path) if path.isdigit() else 0

    @property
    def addresses(self) -> list[str]:
        """The standalone (url) instance, then every configured cluster node."""
        return [self.address, *self.cfg.cluster_nodes]

    def _client(self, address: str) -> Any:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client = self._clients.get(address)
        if client is None:
            host, _, port = address.rpartition(":")
            client = redis.Redis(
                host=host or "127.0.0.1",
                port=int(port),
                db=self.db if address == self.address else 0,
                username=self.cfg.username,
                password=read_secret(self.cfg.password, self.cfg.password_file),
                **self._tls_options(),
                socket_timeout=self.cfg.timeout_s,
                socket_connect_timeout=self.cfg.timeout_s,
                retry=Retry(NoBackoff(), 0),
                decode_responses=True,
            )
            self._clients[address] = client
        return client

    def _tls_options(self) -> dict[str, Any]:
        tls = self.cfg.tls
        if not self.cfg.uses_tls:
            return {}
        return {
            "ssl": True,
            "ssl_cert_reqs": "required",
            "ssl_check_hostname": True,
            "ssl_ca_certs": str(tls.ca_file) if tls and tls.ca_file else None,
            "ssl_certfile": str(tls.cert_file) if tls and tls.cert_file else None,
            "ssl_keyfile": str(tls.key_file) if tls and tls.key_file else None,
            "ssl_min_version": __import__("ssl").TLSVersion.TLSv1_2,
        }

    def close(self) -> None:
        for client in self._clients.values():
            with contextlib.suppress(Exception):  # closing never fails a check
                client.close()
        self._clients.clear()

    # -- facts --------------------------------------------------------------------------------
    def info(self, address: str, section: str) -> dict[str, Any]:
        with self.call(f"INFO {section} {address}"):
            result = self._client(address).info(section)
        if not isinstance(result, dict):
            raise SourceError(self.backend, f"INFO {section} {address}", "answer is not a mapping")
        return result

    def memory(self, address: str) -> MemoryFacts:
        with self.call(f"CONFIG GET maxmemory* {address}"):
            conf = self._client(address).config_get("maxmemory*")
        if "maxmemory" not in conf:
            raise SourceError(self.backend, f"CONFIG GET maxmemory {address}", "no maxmemory in the answer")
        return MemoryFacts(address, int(conf["maxmemory"]), str(conf.get("maxmemory-policy", "")))

    def node(self, address: str) -> NodeFacts:
        """PING, INFO replication/cluster and CLUSTER INFO of one node; unreachable is a fact."""
        try:
            with self.call(f"PING {address}"):
                pong = bool(self._client(address).ping())
            repl = self.info(address, "replication")
            cluster_enabled = bool(self.info(address, "cluster").get("cluster_enabled"))
            cluster: dict[str, str] = {}
            if cluster_enabled:
                with self.call(f"CLUSTER INFO {address}"):
                    raw = self._client(address).execute_command("CLUSTER INFO")
                cluster = _parse_cluster_info(raw)
        except SourceError as exc:
            return NodeFacts(address, reachable=False, error=str(exc))
        online = sum(
            1
            for key, value in repl.items()
            if key.startswith("slave")
            and key[5:].isdigit()
            and isinstance(value, dict)
            and value.get("state") == "online"
        )
        return NodeFacts(
            address=address,
            reachable=True,
            ping=pong,
            role=str(repl.get("role", "")) or None,
            connected_replicas=int(repl.get("connected_slaves", 0) or 0),
            replicas_online=online,
            master_link_status=repl.get("master_link_status"),
            cluster_enabled=cluster_enabled,
            cluster=cluster,
        )

    def keyspace(self) -> dict[str, dict[str, int]]:
        """INFO keyspace of the standalone instance: {"db0": {"keys": n, "expires": m}, ...}."""
        raw = self.info(self.address, "keyspace")
        out: dict[str, dict[str, int]] = {}
        for db, value in raw.items():
            if isinstance(value, dict):
                out[str(db)] = {k: int(v) for k, v in value.items() if k in ("keys", "expires")}
        return out


def _parse_cluster_info(raw: Any) -> dict[str, str]:
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(":")
        if sep:
            out[key] = value
    return out
