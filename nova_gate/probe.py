"""Fail fast: before the first test, every backend the selected tests need is probed once, all
concurrently. A backend that does not answer is then known as down to its source (see
``Source.call``): every test that needs it fails at once with the same one-line reason, so a dead
backend costs its timeout once, and many dead backends cost about one timeout together.

Probes are one cheap read per endpoint; facts are never taken from them (no verdicts here).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from nova_gate.backends.base import Source, SourceError


def _each(items: list[Any], fn: Callable[[Any], Any]) -> None:
    """Run ``fn`` over ``items`` concurrently (endpoints of one backend), swallowing SourceError."""

    def safe(item: Any) -> None:
        # SourceError: remembered by the source. Anything else is a driver's bug: the tests that ask
        # this backend meet it again and report it; the probe, a session fixture every test uses,
        # must not turn one backend's crash into every test's
        with contextlib.suppress(Exception):
            fn(item)

    if len(items) <= 1:
        for item in items:
            safe(item)
        return
    with ThreadPoolExecutor(max_workers=min(len(items), 16), thread_name_prefix="nova-probe") as pool:
        list(pool.map(safe, items))


def probe(source: Source) -> None:
    """One cheap call per endpoint of ``source``; failures are remembered by the source itself."""
    kind = type(source).__name__
    s: Any = source
    if kind == "HttpSource":
        # one health request per endpoint (host:port), not per service: a source marks endpoints down,
        # so a second service behind the same endpoint would tell the probe nothing more
        names = s.release.service_names if hasattr(s.release, "service_names") else [x.name for x in s.release.services]
        by_endpoint: dict[str, str] = {}
        for name in names:
            by_endpoint.setdefault(urlsplit(s.service_url(name, "/")).netloc, name)
        _each(list(by_endpoint.values()), s.health)
    elif kind == "PostgresSource":
        hosts = [(s.cfg.host, s.cfg.port)] + [(r.host, r.port) for r in s.cfg.replicas]
        _each(hosts, lambda hp: s.query("select 1", host=hp[0], port=hp[1], what=f"probe {hp[0]}:{hp[1]}"))
    elif kind == "RedisSource":

        def ping(address: str) -> None:
            with s.call(f"PING {address}"):
                s._client(address).ping()

        _each(list(s.addresses), ping)
    elif kind == "ClickHouseSource":
        _each([None], lambda _: s.query("SELECT 1", what="probe SELECT 1"))
    elif kind == "KafkaSource":
        _each([None], lambda _: s.cluster())
    elif kind == "SearchSource":
        _each([None], lambda _: s.cluster_health())
    elif kind == "PrometheusSource":
        _each([None], lambda _: s._data("GET /api/v1/status/buildinfo", "/api/v1/status/buildinfo"))
    elif kind == "AlertmanagerSource":
        _each([None], lambda _: s._json("GET /api/v2/status", "/api/v2/status"))
    elif kind == "RegistrySource":
        _each([None], lambda _: s._get("GET /v2/", "/v2/"))
    elif kind == "KubernetesSource":
        _each([None], lambda _: s.nodes())
    elif kind == "GrafanaSource":
        _each([None], lambda _: s.get("/api/health"))
    elif kind == "VaultSource":
        _each([None], lambda _: s.get("/v1/sys/health"))
    elif kind == "S3Source":
        # reachability only: the gates' policy need not allow ListBuckets (a refusal is an answer)
        _each([None], lambda _: s.ask("probe ListBuckets", "list_buckets"))
    else:
        with contextlib.suppress(SourceError):
            source.probe()


def probe_all(sources: list[Source]) -> None:
    """Probe every source concurrently; returns when each has answered or failed (its timeout)."""
    _each(sources, probe)
