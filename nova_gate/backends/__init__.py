"""Every backend nova-gate reads, in one table: a backend is one package ``nova_gate/backends/<name>/``
(``config.py`` its pydantic model, ``facts.py`` its fact types, ``source.py`` what fetches them,
``rules.py`` the verdicts) and one line here.

The table names its parts as lazily imported ``"module:Attribute"`` strings (pytest-testinfra's
module table, Argo Rollouts' provider factory): importing this module imports no driver. From it come
the environment's ``backends:`` fields (``nova_gate.config.Backends``), the backend markers (the
catalog's ``backends`` column), the session fixtures (``nova_gate.fixture_factory``) and the
unreachable-backend proofs. Adding a backend: README, "Add a backend".
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

#: the fixture value that means "the environment's ``release`` section" instead of a backends field
RELEASE = "release"


@dataclass(frozen=True)
class Backend:
    """One backend: its marker name, its config model, its source and the session fixtures it makes."""

    name: str  # package, marker and the catalog's `backends` tag
    source: str  # "module:Class" of the Source
    config: str | None = None  # "module:Class" of the config model of its `backends:` fields
    fields: tuple[str, ...] = ()  # the environment's backends.<field> keys of that model
    fixtures: dict[str, str] = field(default_factory=dict)  # session fixture -> backends field (or RELEASE)
    doc: str = ""  # one line, the fixtures' docstring

    def config_model(self) -> Any:
        return load(self.config) if self.config else None

    def source_class(self) -> Any:
        return load(self.source)


def load(target: str) -> Any:
    """Import ``"package.module:Attribute"``."""
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _b(
    name: str, source: str, config: str | None, fields: tuple[str, ...], fixtures: dict[str, str], doc: str
) -> Backend:
    pkg = f"nova_gate.backends.{name}"
    return Backend(name, f"{pkg}.source:{source}", f"{pkg}.config:{config}" if config else None, fields, fixtures, doc)


# fmt: off
BACKENDS: dict[str, Backend] = {b.name: b for b in (
    _b("postgres", "PostgresSource", "Postgres", ("postgres", "postgres_staging"),
       {"postgres": "postgres", "staging_postgres": "postgres_staging"},
       "PostgreSQL (primary + replicas) through read-only sessions with timeouts"),
    _b("redis", "RedisSource", "Redis", ("redis",), {"redis_source": "redis"},
       "Redis (standalone url + cluster nodes) with socket timeouts, no retries"),
    _b("clickhouse", "ClickHouseSource", "ClickHouse", ("clickhouse",), {"clickhouse": "clickhouse"},
       "ClickHouse over HTTP (clickhouse-connect), read-only queries"),
    _b("kafka", "KafkaSource", "Kafka", ("kafka",), {"nova_kafka": "kafka"},
       "Apache Kafka through kafka-python's admin client (bounded timeouts)"),
    _b("search", "SearchSource", "Search", ("search",), {"nova_search": "search"},
       "Elasticsearch/OpenSearch through elastic-transport (works across server majors)"),
    _b("prometheus", "PrometheusSource", "Prometheus", ("prometheus",), {"prometheus": "prometheus"},
       "Prometheus' HTTP API (range and instant queries, targets, rules) with timeouts"),
    _b("alertmanager", "AlertmanagerSource", "Alertmanager", ("alertmanager",), {"alertmanager": "alertmanager"},
       "Alertmanager's API v2 (status and alerts), read only"),
    _b("registry", "RegistrySource", "Registry", ("registry",), {"registry": "registry"},
       "The container registry's HTTP API v2"),
    _b("kubernetes", "KubernetesSource", "Kubernetes", ("kubernetes",), {"kube": "kubernetes"},
       "The API server through the kubeconfig of backends.kubernetes (paginated lists, timeouts)"),
    _b("grafana", "GrafanaSource", "Grafana", ("grafana",), {"grafana": "grafana"},
       "Grafana's HTTP API (service-account token from the environment)"),
    _b("vault", "VaultSource", "Vault", ("vault",), {"vault": "vault"},
       "HashiCorp Vault's KV v2 metadata API (secret values are never read)"),
    _b("s3", "S3Source", "S3", ("s3",), {"s3": "s3"},
       "The S3 REST API (SigV4-signed, read-only requests)"),
    _b("secretsmanager", "SecretsManagerSource", "SecretsManager", ("secretsmanager",),
       {"secretsmanager": "secretsmanager"},
       "AWS Secrets Manager's DescribeSecret (metadata only: secret values are never read)"),
    _b("pagerduty", "PagerDutySource", "PagerDuty", ("pagerduty",), {"pagerduty": "pagerduty"},
       "PagerDuty's REST API v2 on-calls (a read-only API key)"),
    _b("http", "HttpSource", "Jwks", ("jwks",), {"services_http": RELEASE},
       "The services' HTTP APIs at release.base_url, with release.http_timeout_s on every request"),
)}
# fmt: on

#: the backend markers, in table order
MARKERS: tuple[str, ...] = tuple(BACKENDS)


def fixture_backends() -> dict[str, tuple[Backend, str]]:
    """Session fixture name -> (its backend, the backends field it reads or RELEASE)."""
    return {fx: (b, fld) for b in BACKENDS.values() for fx, fld in b.fixtures.items()}
