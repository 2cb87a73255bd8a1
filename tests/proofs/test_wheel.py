"""The wheel works on its own: built from the checkout, installed into a clean venv in a temporary
directory, it runs a phase against the sandbox from an empty directory (``pytest --pyargs
nova_gate.suite``, also with ``-n 2``, and ``nova-gate run``) and decides as the checkout does.

pip reaches PyPI for the dependencies (its wheel cache makes a repeated install take about two
minutes on this machine); the whole module is bounded by the timeouts below.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = ROOT / "environments" / "sandbox.yaml"
#: a whole phase that reads files, commands and backends (registry, PostgreSQL, Kubernetes, ...)
PHASE = os.environ.get("NOVA_GATE_WHEEL_PHASE", "preflight")


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH and no virtualenv of the checkout: the venv's own site-packages only."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("NOVA_GATE_")}
    if "NOVA_GATE_SANDBOX_DIR" in os.environ:
        env["NOVA_GATE_SANDBOX_DIR"] = os.environ["NOVA_GATE_SANDBOX_DIR"]
    return env


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    # build from a copy of the checkout's files (an in-tree build/ directory could hold stale modules)
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.split(b"\0")
    src = base / "src"
    for name in filter(None, (n.decode() for n in listed)):
        path = ROOT / name
        if path.is_file() and not path.is_symlink():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, src / name)
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check", "-w", dist, src],
        check=True,
        timeout=300,
        env=_clean_env(),
    )
    wheel = next(dist.glob("nova_gate-*.whl"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120, env=_clean_env())
    subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel],
        check=True,
        timeout=900,
        env=_clean_env(),
    )
    return venv


def _decision(path: Path, output: str) -> dict[str, Any]:
    assert path.exists(), output[-4000:]
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _run(argv: list[Any], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=900, env=env, check=False
    )
    return f"exit {proc.returncode}\n{proc.stdout}{proc.stderr}"


def test_the_wheel_runs_a_phase_from_any_directory_like_the_checkout(venv: Path, tmp_path: Path) -> None:
    work = tmp_path / "somewhere-else"
    work.mkdir()
    python = venv / "bin" / "python"
    where = subprocess.run(
        [python, "-c", "import nova_gate; print(nova_gate.__file__)"],
        cwd=work,
        capture_output=True,
        text=True,
        env=_clean_env(),
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where  # the installed package, not the checkout

    reports = f"--reports-dir={tmp_path / 'checkout-reports'}"
    checkout_argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", PHASE, reports]
    checkout_out = _run([*checkout_argv, f"--decision-file={tmp_path / 'checkout.json'}"], cwd=ROOT)
    checkout = _decision(tmp_path / "checkout.json", checkout_out)

    common = ["-q", "-m", PHASE, f"--env={ENV_FILE}"]
    wheel_out = _run(
        [python, "-m", "pytest", "--pyargs", "nova_gate.suite", *common, "--decision-file=wheel.json"],
        cwd=work,
        env=_clean_env(),
    )
    wheel = _decision(work / "wheel.json", wheel_out)
    xdist_out = _run(
        [python, "-m", "pytest", "--pyargs", "nova_gate.suite", *common, "-n", "2", "--decision-file=xdist.json"],
        cwd=work,
        env=_clean_env(),
    )
    xdist = _decision(work / "xdist.json", xdist_out)
    nova_gate = venv / "bin" / "nova-gate"
    cli_out = _run([nova_gate, "run", PHASE, *common[1:], "--decision-file=cli.json"], work, _clean_env())
    cli = _decision(work / "cli.json", cli_out)

    runs = (("wheel", wheel, wheel_out), ("wheel -n 2", xdist, xdist_out), ("nova-gate run", cli, cli_out))
    for name, other, out in runs:
        assert other["decision"] == checkout["decision"], (name, out[-3000:])
        assert out.split()[1] == checkout_out.split()[1], (name, "exit code", out[-3000:])
        assert other["items"] == checkout["items"], name
        # the record is written where the run was started, under run-unique names
        record = work / "reports" / other["evidence_file"]
        assert record.exists(), (name, sorted(p.name for p in (work / "reports").iterdir()))
    assert len(checkout["items"]) >= 3
    listed = subprocess.run(
        [nova_gate, "items", "--json", f"--env={ENV_FILE}"],
        cwd=work, capture_output=True, text=True, timeout=300, env=_clean_env(), check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr[-2000:]
    rows = json.loads(listed.stdout)
    assert len(rows) == 99 and all(r["tests"] for r in rows if r["automated"])
    assert not (work / "checks").exists()  # nothing of the checkout was needed


HOST_CONFTEST = """
from nova_gate.suite import FIXTURE_PLUGINS

pytest_plugins = FIXTURE_PLUGINS

def pytest_nova_gate_items(config):
    return [{"id": "ACME-1", "phase": "preflight", "text": "feature flags exported"}]
"""

HOST_TEST = """
import pytest
from nova_gate.verdict import passed

@pytest.fixture
def env():
    return "the host's own env fixture"

@pytest.mark.item("ACME-1")
def test_flags_exported(gate, nova_env, env, release_repo):
    assert env == "the host's own env fixture"
    gate.evidence(source="host", environment=nova_env.name)
    gate.judge(passed(f"exported for {nova_env.name}"))
"""


def test_a_release_repository_adds_its_items_and_tests_to_the_record(venv: Path, tmp_path: Path) -> None:
    repo = tmp_path / "release-repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "conftest.py").write_text(HOST_CONFTEST)
    (repo / "tests" / "test_acme.py").write_text(HOST_TEST)
    argv = [venv / "bin" / "python", "-m", "pytest", "--pyargs", "nova_gate.suite", "tests", "-q", "-m", "preflight"]
    selection = ["-k", "test_flags_exported or test_documentation", f"--env={ENV_FILE}", "--decision-file=d.json"]
    out = _run([*argv, *selection], repo, _clean_env())
    decision = _decision(repo / "d.json", out)
    assert decision["items"]["ACME-1"] == "PASS", out[-3000:]
    assert {"ACME-1", "PRE-DOC-1", "PRE-DOC-3"} <= set(decision["items"])
    evidence = json.loads((repo / "reports" / decision["evidence_file"]).read_text())
    host = next(t for t in evidence["tests"] if t["nodeid"].endswith("test_flags_exported"))
    assert host["evidence"][0]["environment"] == "sandbox"


def test_the_wheel_holds_every_module_of_the_package_and_the_suite(venv: Path) -> None:
    site = next((venv / "lib").glob("python3*/site-packages"))
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    ).stdout.split()  # fmt: skip
    wanted = {name for name in tracked if name.startswith("nova_gate/")}
    for folder in ("checks", "gates", "smoke", "fixtures"):
        wanted |= {f"nova_gate/suite/{name}" for name in tracked if name.startswith(f"{folder}/")}
    missing = sorted(name for name in wanted if not (site / name).is_file())
    assert not missing, missing
    assert (site / "nova_gate" / "data" / "items.tsv").is_file()
