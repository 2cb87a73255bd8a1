"""Typed environment files (``environments/*.yaml``): parsed and validated once, then passed in.

Secrets are never written in an environment file: a secret field holds a ``${ENV_VAR}`` reference
(``${ENV_VAR:-default}`` allowed for sandbox defaults) that is resolved here, once.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, create_model, field_validator

from nova_gate import safeyaml
from nova_gate.backends import BACKENDS
from nova_gate.backends.kafka.config import Topic
from nova_gate.backends.model import Model

ENV_DIR_NAME = "environments"
DEFAULT_ENV = "sandbox"
_REF = re.compile(r"^\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}$")
_ANY_REF = re.compile(r"\$\{[^}]*\}")


class ConfigError(Exception):
    """A configuration problem, rendered as ``file:key: reason``."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}:{key}: {reason}")
        self.file, self.key, self.reason = file, key, reason


_Model = Model


# the release's model lives below both this module and the backends (the http backend's source
# takes a Release): re-exported here, where the environment file composes it
from nova_gate.release import IDENTIFIER, GitSha, Release, Service, check_identifier  # noqa: E402

__all__ = ["IDENTIFIER", "ConfigError", "GitSha", "Release", "Service", "check_identifier"]


class _BackendsBase(Model):
    """The environment's ``backends:`` section; its fields come from the backend registry."""

    if TYPE_CHECKING:  # the fields are made at import time from the registry's config models

        def __getattr__(self, name: str) -> Any: ...


def _backends_model() -> type[_BackendsBase]:
    """One optional field per registered backend field, typed by that backend's config model."""
    fields: dict[str, Any] = {}
    for backend in BACKENDS.values():
        model = backend.config_model()
        for name in backend.fields:
            fields[name] = (model | None, None)
    return create_model("Backends", __base__=_BackendsBase, __module__=__name__, **fields)


if TYPE_CHECKING:
    Backends = _BackendsBase
else:
    Backends = _backends_model()


Percent = Annotated[float, Field(ge=0, le=100)]


class Thresholds(_Model):
    """Defaults are the checklist's numbers."""

    error_rate_pct: Percent = 1.0
    p95_ms: Annotated[float, Field(gt=0)] = 500
    p99_ms: Annotated[float, Field(gt=0)] = 1000
    cpu_pct: Percent = 80
    memory_pct: Percent = 80
    error_ratio_vs_old: Annotated[float, Field(gt=0)] = 2.0
    latency_ratio_vs_old: Annotated[float, Field(gt=0)] = 1.5
    error_rate_floor_pct: Percent = 0.1
    latency_floor_ms: Annotated[float, Field(ge=0)] = 50
    min_requests: Annotated[int, Field(ge=0)] = 100
    sustain_min: Annotated[float, Field(gt=0)] = 5
    canary_window_min: Annotated[float, Field(gt=0)] = 15
    scale_window_min: Annotated[float, Field(gt=0)] = 30
    stability_window_min: Annotated[float, Field(gt=0)] = 120
    review_window_h: Annotated[float, Field(gt=0)] = 24
    stability_error_rate_pct: Percent = 0.5
    memory_leak_pct_per_h: Annotated[float, Field(ge=0)] = 5
    # P24-1: the error rate may rise over the review window by at most the larger of these
    error_trend_growth_pct: Annotated[float, Field(ge=0, le=1000)] = 25
    error_trend_abs_pct: Annotated[float, Field(ge=0, le=100)] = 0.05
    # MON-5: besides memory_leak_pct_per_h (of the fitted start), an absolute allowance per hour
    memory_leak_mb_per_h: Annotated[float, Field(ge=0)] = 0
    replica_lag_s: Annotated[float, Field(gt=0)] = 1
    long_query_s: Annotated[float, Field(gt=0)] = 300
    consumer_lag: Annotated[int, Field(ge=0)] = 1000
    # MON-7: a spike against a group's own baseline is above its median plus the largest of 5 robust
    # deviations, (factor - 1) x the median and this many messages, for 2 scrapes
    consumer_lag_spike_factor: Annotated[float, Field(ge=1.5, le=100)] = 3.0
    consumer_lag_spike_min: Annotated[int, Field(ge=1)] = 100
    backup_max_age_h: Annotated[float, Field(gt=0)] = 24
    connection_reserve: Annotated[int, Field(ge=0)] = 10
    connections_pct: Percent = 80
    slow_statement_ms: Annotated[float, Field(gt=0)] = 500
    attestation_max_age_h: Annotated[float, Field(gt=0)] = 24
    secret_rotation_window_d: Annotated[float, Field(gt=0)] = 30
    # PRE-MON-5: how far ahead of the preflight someone must be on call (the release and its T+24h review)
    oncall_window_h: Annotated[float, Field(gt=0, le=24 * 90)] = 48
    preflight_record_max_age_h: Annotated[float, Field(gt=0)] = 36
    images_retained: Annotated[int, Field(ge=1)] = 3
    redis_maxmemory_min_mb: Annotated[float, Field(ge=0)] = 64
    redis_maxmemory_max_mb: Annotated[float, Field(gt=0)] = 65536
    clickhouse_parts_per_partition: Annotated[int, Field(ge=1)] = 300
    # issue 15 (rule fidelity): limits where the checklist is silent
    clickhouse_replica_delay_s: Annotated[int, Field(ge=1)] = 300
    clickhouse_replica_queue: Annotated[int, Field(ge=1)] = 100
    jwt_token_ttl_s: Annotated[float, Field(gt=0)] = 3600


class Expectations(_Model):
    topics: list[Topic] = []
    consumer_groups: list[str] = []
    clickhouse_tables: dict[str, dict[str, str]] = {}
    redis_maxmemory_policy: str = "allkeys-lru"
    required_env: list[str] = []
    required_secrets: list[str] = []
    search_indices: list[str] = []
    dashboards: list[str] = []
    #: PRE-MON-5: PagerDuty escalation policy ids that must have someone on call
    escalation_policies: list[str] = []
    s3_buckets: list[str] = []
    s3_principal: str | None = None
    critical_severities: list[str] = ["critical"]


class Files(_Model):
    release_notes: Path | None = None
    rollback_doc: Path | None = None
    changelog: Path | None = None
    openapi_dir: Path | None = None
    attestations: Path | None = None
    preflight_records: Path | None = None


class Commands(_Model):
    """The code-quality commands of the preflight, run in ``release.backend_dir``."""

    unit_tests: list[str] = ["cargo", "test", "--lib"]
    integration_tests: list[str] = ["cargo", "test", "--test", "*"]
    clippy: list[str] = ["cargo", "clippy", "--", "-D", "warnings"]
    fmt: list[str] = ["cargo", "fmt", "--check"]
    audit: list[str] = ["cargo", "audit", "--no-fetch", "--stale"]
    audit_db: Path | None = Field(default=None, description="local RustSec advisory database (--db)")
    path: list[str] = Field(default=[], description="directories put first on PATH (~ expanded)")
    timeout_s: Annotated[float, Field(gt=0, le=7200)] = 900
    target_dir: Path | None = Field(default=None, description="CARGO_TARGET_DIR (keeps builds between runs)")


class Metrics(_Model):
    """PromQL for the metric gates. Each query returns one series per (service, version); the
    defaults are the checklist's queries, on a short rate so that a breach has to be sustained."""

    # Errors on a short rate: the sustain rule (5 min) does the smoothing, so a 3-minute spike passes.
    rate_window: str = "1m"
    # Percentiles and new-vs-old ratios need more requests per point to be stable: the checklist's 5m.
    smooth_rate_window: str = "5m"
    # A day's trend is judged on half-hour rates: per-minute counts near zero are noise.
    trend_rate_window: str = "30m"
    error_rate_pct: str = (
        'sum by (service, version) (rate(http_requests_total{{status=~"5.."}}[{rate}]))'
        " / sum by (service, version) (rate(http_requests_total[{rate}])) * 100"
    )
    latency_ms: str = (
        "histogram_quantile({q}, sum by (service, version, le) "
        "(rate(http_request_duration_seconds_bucket[{rate}]))) * 1000"
    )
    cpu_pct: str = "max by (service, version) (process_cpu_usage_ratio) * 100"
    memory_pct: str = "max by (service, version) (process_resident_memory_bytes / container_memory_limit_bytes) * 100"
    memory_bytes: str = "max by (service, version) (process_resident_memory_bytes)"
    requests: str = "sum by (service, version) (increase(http_requests_total[{window}]))"
    job: str = "nova"
    min_coverage: Annotated[float, Field(gt=0, le=1)] = 0.8
    # Judgment on counts (issue 10): every step's sliding-window increase of requests, errors and
    # histogram buckets; {window} is count_window (the checklist's "for 5 minutes" statements).
    count_window: Annotated[str, Field(pattern=r"^[1-9][0-9]*(s|m|h)$")] = "5m"
    requests_increase: str = "sum by (service, version) (increase(http_requests_total[{window}]))"
    errors_increase: str = (
        'sum by (service, version) (increase(http_requests_total{{status=~"5.."}}[{window}]))'
        " or (0 * sum by (service, version) (increase(http_requests_total[{window}])))"
    )
    buckets_increase: str = "sum by (service, version, le) (increase(http_request_duration_seconds_bucket[{window}]))"
    # missing scrapes inside a breach that do not end it (a longer gap does)
    max_gap_scrapes: Annotated[int, Field(ge=0, le=40)] = 4
    # one-sided confidence of "clearly within" (a PASS needs it; only such a window restarts the clock)
    confidence: Annotated[float, Field(ge=0.8, lt=1)] = 0.95
    # MON-7: each consumer group's lag summed over its partitions, from a Kafka lag exporter's
    # series (danielqsj/kafka_exporter's names; the sandbox's exporter reads the brokers' offsets)
    consumer_lag: str = "sum by (consumergroup) (kafka_consumergroup_lag)"
    consumer_group_label: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "consumergroup"
    #: Prometheus' scrape interval: every window and rate must span at least two scrapes
    scrape_interval_s: Annotated[float, Field(gt=0, le=600)] = 15


class Policy(_Model):
    """How far waivers may go: lifetime, who may approve, how much of a phase may be waived."""

    waiver_max_days: Annotated[float, Field(gt=0, le=365)] = 14
    approvers: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")]] = []
    max_waived_share_pct: Percent = 20


class Environment(_Model):
    name: str
    description: str = ""
    release: Release
    backends: Backends = Backends()
    thresholds: Thresholds = Thresholds()
    expectations: Expectations = Expectations()
    files: Files = Files()
    commands: Commands = Commands()
    metrics: Metrics = Metrics()
    policy: Policy = Policy()
    #: a reason (at least 10 characters) to accept thresholds that would weaken a gate; recorded
    allow_unsafe_thresholds: Annotated[str, Field(min_length=10, max_length=500)] | None = None

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        return check_identifier(value, "environment name")

    @property
    def service_names(self) -> list[str]:
        return [s.name for s in self.release.services]


class LoadedEnvironment:
    """An environment plus where it came from and a hash of its text (for the audit record)."""

    def __init__(self, env: Environment, path: Path, text: str, unsafe: list[str] | None = None) -> None:
        self.env = env
        self.path = path
        self.config_hash = hashlib.sha256(text.encode()).hexdigest()
        #: thresholds accepted only under ``allow_unsafe_thresholds`` ("key: why"), for the record
        self.unsafe: list[str] = unsafe or []

    def __repr__(self) -> str:
        return f"LoadedEnvironment({self.env.name!r}, path={str(self.path)!r})"


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def prom_duration_s(text: str) -> float | None:
    """Seconds of a Prometheus duration like ``5m`` or ``1h30m``; None if it is not one."""
    match = _DURATION.match(text.strip())
    if not match or not any(match.groups()):
        return None
    d, h, m, sec = (int(g) if g else 0 for g in match.groups())
    return float(d * 86400 + h * 3600 + m * 60 + sec)


def threshold_problems(env: Environment) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(errors, unsafe): errors are always bad input; unsafe values would weaken or disable a gate
    and are accepted only with ``allow_unsafe_thresholds``. Each is (dotted key, reason)."""
    t, m, pol = env.thresholds, env.metrics, env.policy
    errors: list[tuple[str, str]] = []
    unsafe: list[tuple[str, str]] = []
    scrape = m.scrape_interval_s

    def never_fails(key: str, value: float, limit: float, why: str) -> None:
        if value >= limit:
            unsafe.append((key, f"{value:g} {why}: the gate could never fail"))

    for key in ("error_rate_pct", "stability_error_rate_pct", "cpu_pct", "memory_pct", "connections_pct"):
        never_fails(f"thresholds.{key}", getattr(t, key), 100, "% can never be exceeded")
    never_fails("thresholds.error_rate_floor_pct", t.error_rate_floor_pct, 100, "% floor hides every error rate")
    never_fails("thresholds.memory_leak_pct_per_h", t.memory_leak_pct_per_h, 100, "%/h is no trend limit")
    for key in ("p95_ms", "p99_ms"):
        never_fails(f"thresholds.{key}", getattr(t, key), 60_000, "ms (a minute or more) is no latency limit")
    for key in ("error_ratio_vs_old", "latency_ratio_vs_old"):
        never_fails(f"thresholds.{key}", getattr(t, key), 10, "x the old version is no comparison")
    never_fails("thresholds.replica_lag_s", t.replica_lag_s, 3600, "s of replica lag")
    never_fails("thresholds.long_query_s", t.long_query_s, 86400, "s for a long query")
    never_fails("thresholds.consumer_lag", t.consumer_lag, 10_000_000, "messages of consumer lag")
    never_fails("thresholds.backup_max_age_h", t.backup_max_age_h, 24 * 14, "h for the newest backup")
    never_fails("thresholds.attestation_max_age_h", t.attestation_max_age_h, 24 * 14, "h for an attestation")
    never_fails("thresholds.preflight_record_max_age_h", t.preflight_record_max_age_h, 24 * 7, "h for PD-1")
    never_fails("thresholds.clickhouse_parts_per_partition", t.clickhouse_parts_per_partition, 100_000, "parts")
    never_fails("policy.max_waived_share_pct", pol.max_waived_share_pct, 100, "% of a phase waivable")
    never_fails("policy.waiver_max_days", pol.waiver_max_days, 91, "days for a waiver")
    if m.min_coverage < 0.5:
        unsafe.append(("metrics.min_coverage", f"{m.min_coverage:g}: judging windows with half their samples missing"))
    if t.p95_ms > t.p99_ms:
        errors.append(("thresholds.p95_ms", f"{t.p95_ms:g} ms is above p99_ms {t.p99_ms:g} ms"))
    if t.redis_maxmemory_min_mb > t.redis_maxmemory_max_mb:
        errors.append(("thresholds.redis_maxmemory_min_mb", "above redis_maxmemory_max_mb"))
    windows = {
        "thresholds.canary_window_min": t.canary_window_min * 60,
        "thresholds.scale_window_min": t.scale_window_min * 60,
        "thresholds.stability_window_min": t.stability_window_min * 60,
        "thresholds.review_window_h": t.review_window_h * 3600,
    }
    for key, seconds in windows.items():
        if seconds < 2 * scrape:
            errors.append((key, f"{seconds:g} s is shorter than two scrapes ({2 * scrape:g} s)"))
        elif t.sustain_min * 60 >= seconds:
            errors.append(
                (
                    "thresholds.sustain_min",
                    f"{t.sustain_min:g} min is not shorter than {key} ({seconds / 60:g} min): "
                    "no breach could ever be sustained",
                )
            )
    for key in ("rate_window", "smooth_rate_window", "trend_rate_window"):
        value = getattr(m, key)
        rate_s = prom_duration_s(value)
        if rate_s is None:
            errors.append((f"metrics.{key}", f"{value!r} is not a Prometheus duration (e.g. 1m, 5m, 1h30m)"))
        elif rate_s < 2 * scrape:
            errors.append(
                (f"metrics.{key}", f"{value} is shorter than two scrapes ({2 * scrape:g} s): rate() is empty")
            )
    return errors, unsafe


_LOOPBACK = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]*@)?(127\.\d+\.\d+\.\d+|localhost|\[::1\])(?::\d+)?(?:/.*)?$"
)


#: the config fields that name where a backend answers (a URL, a host, host:port lists)
_ENDPOINT_FIELDS = ("url", "host", "endpoint", "cluster_nodes", "bootstrap_servers")


def _endpoints(model: BaseModel) -> list[str]:
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if value is None:
            continue
        if name in _ENDPOINT_FIELDS:
            found += [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)]
        elif isinstance(value, BaseModel):
            found += _endpoints(value)
        elif isinstance(value, list):
            found += [e for v in value if isinstance(v, BaseModel) for e in _endpoints(v)]
    return found


def _is_local_sandbox(env: Environment) -> bool:
    """The sandbox environment: named sandbox and every endpoint of every backend on loopback."""
    if env.name != "sandbox":
        return False
    endpoints = [env.release.base_url.replace("{port}", "1"), *_endpoints(env.backends)]
    return all(_LOOPBACK.match(e.strip()) for e in endpoints)


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


def resolve_env_path(name_or_path: str | None, search_dirs: list[Path] | None = None) -> Path:
    """``sandbox`` → ``environments/sandbox.yaml``; a path is taken as it is."""
    value = name_or_path or os.environ.get("NOVA_GATE_ENV") or DEFAULT_ENV
    candidate = Path(value)
    if candidate.suffix in (".yaml", ".yml") or os.sep in value:
        return candidate
    dirs = search_dirs or [Path.cwd() / ENV_DIR_NAME, project_root() / ENV_DIR_NAME]
    for directory in dirs:
        path = directory / f"{value}.yaml"
        if path.exists():
            return path
    return dirs[0] / f"{value}.yaml"


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _resolve_refs(
    value: Any, path: tuple[int | str, ...], file: str, secret_keys: set[str], defaulted: list[str] | None = None
) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_refs(v, (*path, k), file, secret_keys, defaulted) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, (*path, i), file, secret_keys, defaulted) for i, v in enumerate(value)]
    if isinstance(value, str):
        match = _REF.match(value)
        if match:
            name, default = match.group("name"), match.group("default")
            secret_default = default is not None and name not in os.environ and path and path[-1] in secret_keys
            if secret_default and defaulted is not None:
                defaulted.append(_key(path))
            resolved = os.environ.get(name, default)
            if resolved is None:
                raise ConfigError(file, _key(path), f"environment variable {name} is not set")
            return resolved
        if _ANY_REF.search(value):
            raise ConfigError(file, _key(path), "a ${...} reference must be the whole value")
        if path and path[-1] in secret_keys and value:
            raise ConfigError(file, _key(path), "secrets must be given as ${ENV_VAR} references, not literally")
    return value


_SECRET_KEYS = {"password", "token", "secret_access_key"}


def _relative_paths(env: Environment, base: Path) -> Environment:
    """Make every Path field absolute, relative to the environment file's directory."""

    def fix(model: BaseModel) -> BaseModel:
        updates: dict[str, Any] = {}
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, Path) and not value.is_absolute():
                updates[name] = (base / value).resolve()
            elif isinstance(value, BaseModel):
                fixed = fix(value)
                if fixed is not value:
                    updates[name] = fixed
        return model.model_copy(update=updates) if updates else model

    result = fix(env)
    assert isinstance(result, Environment)
    return result


def load_environment(
    name_or_path: str | None = None,
    *,
    release_version: str | None = None,
    baseline_version: str | None = None,
) -> LoadedEnvironment:
    """Read, resolve and validate an environment file; raise ConfigError on any problem."""
    path = resolve_env_path(name_or_path)
    file = str(path)
    try:
        text = safeyaml.read_text(path, "environment")
        raw = safeyaml.load(text)
    except safeyaml.YamlProblem as exc:
        raise ConfigError(file, exc.where, exc.reason) from None
    if not isinstance(raw, dict):
        raise ConfigError(file, "<root>", "expected a mapping of settings")
    defaulted: list[str] = []
    raw = _resolve_refs(raw, (), file, _SECRET_KEYS, defaulted)
    for flag, value in (("--release-version", release_version), ("--baseline-version", baseline_version)):
        if value is not None:
            try:
                check_identifier(value, "version")
            except ValueError as exc:
                raise ConfigError(flag, "<option>", str(exc)) from None
    if release_version or baseline_version:
        release = raw.get("release")
        if isinstance(release, dict):
            if release_version:
                release["version"] = release_version
            if baseline_version:
                release["baseline_version"] = baseline_version
    try:
        env = Environment.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = first["msg"]
        if first["type"] == "extra_forbidden":
            reason = "unknown key"
        elif first["type"] == "value_error":
            reason = reason.removeprefix("Value error, ")
        raise ConfigError(file, _key(tuple(first["loc"])), reason) from None
    if defaulted and not _is_local_sandbox(env):
        raise ConfigError(
            file,
            defaulted[0],
            "a ${VAR:-default} default for a secret is only allowed in the local sandbox environment; set the variable",
        )
    errors, unsafe = threshold_problems(env)
    if errors:
        raise ConfigError(file, *errors[0])
    if unsafe and not env.allow_unsafe_thresholds:
        key, why = unsafe[0]
        raise ConfigError(file, key, f"{why} (set allow_unsafe_thresholds: <reason> to accept it on record)")
    env = _relative_paths(env, path.resolve().parent)
    return LoadedEnvironment(env, path, text, [f"{k}: {why}" for k, why in unsafe])


def secret_values(env: Environment) -> list[str]:
    """Every resolved secret of the environment, for redaction in reports and logs."""
    found: list[str] = []

    def walk(model: BaseModel) -> None:
        for name in type(model).model_fields:
            value = getattr(model, name)
            if isinstance(value, SecretStr):
                secret = value.get_secret_value()
                if secret:
                    found.append(secret)
            elif name in ("password_file", "token_file") and isinstance(value, Path):
                try:  # read now only to redact it; the source reads it again when it uses it
                    secret = value.read_text(encoding="utf-8").rstrip("\r\n")
                except OSError:
                    secret = ""
                if secret:
                    found.append(secret)
            elif isinstance(value, BaseModel):
                walk(value)
            elif isinstance(value, list):
                for element in value:
                    if isinstance(element, BaseModel):
                        walk(element)

    walk(env)
    return found
