"""Elasticsearch / OpenSearch facts over HTTP(S): cluster health, indices, unassigned shards.

Uses ``elastic_transport`` (the transport layer under the official Elasticsearch client) rather
than the ``elasticsearch`` client itself: the client refuses servers that are not Elasticsearch
(OpenSearch) and pins the server major version, while these few read-only endpoints
(``_cluster/health``, ``_cat/indices``, ``_cat/shards``, ``_cluster/allocation/explain``) answer
the same on Elasticsearch 7.17/8.x/9.x and OpenSearch 2.x.

HTTPS is always verified (the configured CA bundle, else the system's trust store; hostname checked,
TLS 1.2 or newer); credentials are basic auth or an API key, read from their reference or file.
"""

from __future__ import annotations

import base64
import logging
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.search.config import Search
from nova_gate.backends.search.facts import ClusterHealth, IndexFacts, UnassignedShard

if TYPE_CHECKING:
    import elastic_transport

# The transport logs every failed attempt with a full traceback; the one-line SourceError says it all.
logging.getLogger("elastic_transport.transport").setLevel(logging.ERROR)
logging.getLogger("elastic_transport.node_pool").setLevel(logging.ERROR)

#: explain at most this many unassigned primaries (one request each)
MAX_EXPLAINED = 5


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class TransportFailure(ConnectionError):
    """The transport's connection error with the socket's or TLS handshake's own words."""


def _verifying_context() -> ssl.SSLContext:
    """The system's trust store, hostname checked, TLS 1.2 or newer."""
    ctx = ssl.create_default_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class SearchSource(Source):
    backend = "search"
    driver_errors: tuple[type[BaseException], ...] = (OSError,)

    def __init__(self, cfg: Search) -> None:
        # imported here, not at module level: collecting the gates must not pay for it (0.4 s)
        import elastic_transport

        self.driver_errors = (OSError, elastic_transport.TransportError, elastic_transport.SerializationError)
        super().__init__()
        self.cfg = cfg
        self._transport: elastic_transport.Transport | None = None

    # -- connection ----------------------------------------------------------------------------
    @property
    def transport(self) -> elastic_transport.Transport:
        import elastic_transport

        if self._transport is None:
            parts = urlsplit(self.cfg.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise SourceError(self.backend, "connect", f"not an http(s) URL: {self.cfg.url!r}")
            port = parts.port or (443 if parts.scheme == "https" else 80)
            with self.call("connect"):
                tls: dict[str, Any] = {}
                if parts.scheme == "https":
                    tls["ssl_context"] = self.cfg.tls.context() if self.cfg.tls else _verifying_context()
                node = elastic_transport.NodeConfig(
                    parts.scheme,
                    parts.hostname,
                    port,
                    path_prefix=parts.path.rstrip("/"),
                    request_timeout=self.cfg.timeout_s,
                    **tls,
                )
                self._transport = elastic_transport.Transport(
                    [node], max_retries=0, retry_on_timeout=False, meta_header=False
                )
        return self._transport

    def _headers(self) -> dict[str, str]:
        """Request headers, credentials included: never log them."""
        from nova_gate.auth import SecretFileError, read_secret

        headers = {"accept": "application/json", "content-type": "application/json"}
        try:
            api_key = read_secret(self.cfg.api_key, self.cfg.api_key_file)
            password = read_secret(self.cfg.password, self.cfg.password_file)
        except SecretFileError as exc:
            raise SourceError(self.backend, "credentials", exc) from None
        if api_key:
            headers["authorization"] = f"ApiKey {api_key}"
        elif self.cfg.username is not None:
            token = base64.b64encode(f"{self.cfg.username}:{password or ''}".encode()).decode()
            headers["authorization"] = f"Basic {token}"
        return headers

    def request(
        self,
        what: str,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        ok: tuple[int, ...] = (),
    ) -> Any:
        """One HTTP call; a status >= 400 (unless listed in ``ok``) is a SourceError."""
        import elastic_transport

        target = path + (f"?{urlencode(params)}" if params else "")
        transport = self.transport
        headers = self._headers()
        with self.call(what):
            timed_out = False
            try:
                resp = transport.perform_request(
                    method, target, body=body, headers=headers, request_timeout=self.cfg.timeout_s
                )
            except elastic_transport.ConnectionTimeout:
                timed_out = True
            except elastic_transport.ConnectionError as exc:
                # its str() is only "TLS error" / "Connection error": say what the socket said
                raise TransportFailure(f"{type(exc).__name__}: {exc.message}") from exc
            if timed_out:
                # raised outside the handler, so without the handshake's SSL error as its context: a
                # black hole times the TLS handshake out too, and that is no answer, not a TLS refusal
                raise TimeoutError(f"ConnectionTimeout: no answer within {self.cfg.timeout_s:g} s")
        status = resp.meta.status
        if status >= 400 and status not in ok:
            error = resp.body.get("error") if isinstance(resp.body, Mapping) else None
            if isinstance(error, Mapping):
                detail = f"{error.get('type', '')}: {error.get('reason', '')}"
            else:
                detail = str(error or resp.body)[:200]
            raise SourceError(self.backend, what, f"HTTP {status} {detail}")
        return resp.body

    def close(self) -> None:
        if self._transport is not None:
            transport, self._transport = self._transport, None
            transport.close()

    # -- facts -------------------------------------------------------------------------------------
    def cluster_health(self) -> ClusterHealth:
        body = self.request("cluster health", "GET", "/_cluster/health")
        if not isinstance(body, Mapping) or "status" not in body:
            raise SourceError(self.backend, "cluster health", "answer has no status")
        return ClusterHealth(
            cluster_name=str(body.get("cluster_name", "")),
            status=str(body["status"]),
            number_of_nodes=_int(body.get("number_of_nodes")),
            active_primary_shards=_int(body.get("active_primary_shards")),
            unassigned_shards=_int(body.get("unassigned_shards")),
            raw=dict(body),
        )

    def indices(self) -> list[IndexFacts]:
        rows = self.request(
            "list indices",
            "GET",
            "/_cat/indices",
            {"format": "json", "h": "index,health,status,pri,rep,docs.count", "s": "index"},
        )
        if not isinstance(rows, list):
            raise SourceError(self.backend, "list indices", "answer is not a list")
        return [
            IndexFacts(
                name=str(row.get("index", "")),
                health=str(row.get("health") or ""),
                status=str(row.get("status") or ""),
                primaries=_int(row.get("pri")),
                replicas=_int(row.get("rep")),
                docs=_int(row["docs.count"]) if row.get("docs.count") not in (None, "") else None,
            )
            for row in rows
        ]

    def unassigned_shards(self, explain: bool = True) -> list[UnassignedShard]:
        """Every unassigned shard (``_cat/shards``); unassigned primaries are explained with
        ``_cluster/allocation/explain`` (at most :data:`MAX_EXPLAINED`)."""
        rows = self.request(
            "list shards",
            "GET",
            "/_cat/shards",
            {"format": "json", "h": "index,shard,prirep,state,unassigned.reason"},
        )
        if not isinstance(rows, list):
            raise SourceError(self.backend, "list shards", "answer is not a list")
        out: list[UnassignedShard] = []
        explained = 0
        for row in rows:
            if str(row.get("state", "")).upper() != "UNASSIGNED":
                continue
            primary = str(row.get("prirep", "")).lower() in ("p", "primary")
            shard = UnassignedShard(
                index=str(row.get("index", "")),
                shard=_int(row.get("shard")),
                primary=primary,
                reason=str(row.get("unassigned.reason") or ""),
            )
            if explain and primary and explained < MAX_EXPLAINED:
                explained += 1
                shard = UnassignedShard(
                    shard.index, shard.shard, True, shard.reason, self.explain(shard.index, shard.shard, True)
                )
            out.append(shard)
        return sorted(out, key=lambda s: (s.index, s.shard, not s.primary))

    def explain(self, index: str, shard: int, primary: bool) -> str:
        """The allocation explanation of one shard, as one line ("" when there is none)."""
        body = self.request(
            "allocation explain",
            "POST",
            "/_cluster/allocation/explain",
            body={"index": index, "shard": shard, "primary": primary},
            ok=(400, 404),
        )
        if not isinstance(body, Mapping) or "error" in body:
            return ""
        text = str(body.get("allocate_explanation") or body.get("explanation") or "")
        deciders = [
            f"{d.get('decider')}: {d.get('explanation')}"
            for node in body.get("node_allocation_decisions", []) or []
            for d in node.get("deciders", []) or []
            if str(d.get("decision", "")).upper() == "NO"
        ]
        if deciders:
            text = f"{text} ({deciders[0]})" if text else deciders[0]
        return " ".join(text.split())[:400]
