"""Environment files: the sandbox one loads; each malformed one exits 2 with ``file:key: reason``."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nova_gate.config import ConfigError, load_environment, secret_values

ROOT = Path(__file__).resolve().parents[2]
SANDBOX = yaml.safe_load((ROOT / "environments" / "sandbox.yaml").read_text())


def test_sandbox_environment_loads_with_checklist_defaults():
    env = load_environment("sandbox").env
    assert len(env.release.services) == 11
    t = env.thresholds
    assert (t.error_rate_pct, t.p95_ms, t.p99_ms, t.cpu_pct, t.memory_pct) == (1.0, 500, 1000, 80, 80)
    assert (t.error_ratio_vs_old, t.latency_ratio_vs_old, t.sustain_min) == (2.0, 1.5, 5)
    assert (t.canary_window_min, t.scale_window_min, t.stability_window_min) == (15, 30, 120)
    assert (t.replica_lag_s, t.consumer_lag) == (1, 1000)


def test_version_overrides_and_env_var_default(monkeypatch):
    loaded = load_environment("sandbox", release_version="v2.0.0", baseline_version="v1.0.0")
    assert loaded.env.release.version == "v2.0.0"
    assert loaded.env.release.baseline_version == "v1.0.0"
    monkeypatch.setenv("NOVA_GATE_PG_PASSWORD", "from-the-env")
    env = load_environment("sandbox").env
    assert env.backends.postgres.password.get_secret_value() == "from-the-env"
    assert "from-the-env" in secret_values(env)
    assert "from-the-env" not in repr(env)


def _mutate(path, value):
    def apply(doc):
        node = doc
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return doc

    return apply


_DELETE = object()

BAD = {
    "unknown-top-key": (lambda d: {**d, "thresholdz": {}}, "thresholdz", "unknown key"),
    "unknown-nested-key": (
        _mutate(["backends", "redis", "maxmemory"], 1),
        "backends.redis.maxmemory",
        "unknown key",
    ),
    "port-not-int": (_mutate(["backends", "postgres", "port"], "five"), "backends.postgres.port", "integer"),
    "port-out-of-range": (
        _mutate(["backends", "postgres", "port"], 70000),
        "backends.postgres.port",
        "65535",
    ),
    "missing-version": (_mutate(["release", "version"], _DELETE), "release.version", "Field required"),
    "no-services": (_mutate(["release", "services"], []), "release.services", "at least 1"),
    "service-missing-port": (
        _mutate(["release", "services", 0], {"name": "auth-service"}),
        "release.services[0].port",
        "Field required",
    ),
    "duplicate-service": (
        lambda d: {
            **d,
            "release": {**d["release"], "services": d["release"]["services"] + [d["release"]["services"][0]]},
        },
        "release.services",
        "duplicate",
    ),
    "negative-threshold": (
        lambda d: {**d, "thresholds": {"error_rate_pct": -1}},
        "thresholds.error_rate_pct",
        "greater than or equal",
    ),
    "percent-over-100": (lambda d: {**d, "thresholds": {"cpu_pct": 180}}, "thresholds.cpu_pct", "less than"),
    "literal-secret": (
        _mutate(["backends", "postgres", "password"], "hunter2"),
        "backends.postgres.password",
        "${ENV_VAR}",
    ),
    "unset-env-var": (
        _mutate(["backends", "postgres", "password"], "${NOVA_GATE_TEST_SURELY_UNSET}"),
        "backends.postgres.password",
        "NOVA_GATE_TEST_SURELY_UNSET is not set",
    ),
    "partial-reference": (
        _mutate(["backends", "redis", "url"], "redis://${HOST}:1/0"),
        "backends.redis.url",
        "whole value",
    ),
    "bad-cleanup-policy": (
        lambda d: {
            **d,
            "expectations": {
                "topics": [{"name": "t", "partitions": 1, "retention_ms": 1, "cleanup_policy": "forever"}]
            },
        },
        "expectations.topics[0].cleanup_policy",
        "Input should be",
    ),
    "topic-zero-partitions": (
        lambda d: {**d, "expectations": {"topics": [{"name": "t", "partitions": 0, "retention_ms": 1}]}},
        "expectations.topics[0].partitions",
        "greater than or equal",
    ),
    "backends-not-mapping": (lambda d: {**d, "backends": ["postgres"]}, "backends", "valid dictionary"),
    "timeout-zero": (
        _mutate(["backends", "kafka", "timeout_s"], 0),
        "backends.kafka.timeout_s",
        "greater than",
    ),
    "services-not-list": (_mutate(["release", "services"], "auth-service"), "release.services", "valid list"),
}

RAW_BAD = {
    "invalid-yaml": ("release: [unclosed\n", "line ", "invalid YAML"),
    "not-a-mapping": ("- just\n- a list\n", "<root>", "mapping"),
    "empty-file": ("", "<root>", "mapping"),
    "tab-indent": ("release:\n\tversion: v1\n", "line ", "invalid YAML"),
}


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_environment_is_a_config_error(case, tmp_path):
    mutate, key, reason = BAD[case]
    path = _write(tmp_path, case, yaml.safe_dump(mutate(copy.deepcopy(SANDBOX))))
    with pytest.raises(ConfigError) as err:
        load_environment(str(path))
    message = str(err.value)
    assert message.startswith(f"{path}:{key}: "), message
    assert reason in message, message


@pytest.mark.parametrize("case", sorted(RAW_BAD))
def test_unparseable_environment_is_a_config_error(case, tmp_path):
    text, key, reason = RAW_BAD[case]
    path = _write(tmp_path, case, text)
    with pytest.raises(ConfigError) as err:
        load_environment(str(path))
    assert str(err.value).startswith(f"{path}:{key}"), str(err.value)
    assert reason in str(err.value)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match=r":<file>: no such environment file"):
        load_environment(str(tmp_path / "nope.yaml"))
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match=r":<file>: cannot read"):
        load_environment(str(binary))


@pytest.mark.parametrize("case", ["unknown-nested-key", "literal-secret", "unset-env-var", "port-not-int"])
def test_cli_exits_2_without_traceback(case, tmp_path):
    mutate, key, _ = BAD[case]
    path = _write(tmp_path, case, yaml.safe_dump(mutate(copy.deepcopy(SANDBOX))))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", f"--env={path}", "-m", "preflight", "--no-reports"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert f"{path}:{key}: " in out.stderr
    assert "Traceback" not in out.stdout + out.stderr
    assert "hunter2" not in out.stdout + out.stderr
