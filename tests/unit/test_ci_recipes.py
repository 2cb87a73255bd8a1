"""The CI recipes of examples/ci/ are checked by real linters, and their branching logic is run.

- GitHub Actions: actionlint (built from the Go module proxy into ~/.cache/nova-gate on first use)
  and check-jsonschema's vendored GitHub workflow schema;
- GitLab CI: check-jsonschema's vendored GitLab CI schema (``--builtin-schema vendor.gitlab-ci``);
- gate.sh, which both recipes call: the decision it publishes for every pytest outcome.

Each linter is also shown a broken copy, so a linter that accepts anything cannot pass this test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from nova_gate.catalog import PHASES
from nova_gate.sandbox.base import cache_dir

ROOT = Path(__file__).resolve().parents[2]
CI = ROOT / "examples" / "ci"
ACTIONLINT = "v1.7.12"
GATED = [p for p in PHASES if p != "post_24h"]  # T+24h is a scheduled job of the next day


@pytest.fixture(scope="session")
def actionlint() -> Path:
    """actionlint from the Go module proxy, built once into ~/.cache/nova-gate (fail, never skip)."""
    out = cache_dir() / "tools" / f"actionlint-{ACTIONLINT}"
    binary = out / "actionlint"
    if binary.exists():
        return binary
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        pytest.fail("actionlint is not built and there is no Go toolchain to build it (scripts/setup.sh installs Go)")
    log = out.parent / f"actionlint-{ACTIONLINT}.log"
    out.mkdir(parents=True, exist_ok=True)
    print(f"building actionlint {ACTIONLINT} into {out} (log {log})", file=sys.stderr)
    with open(log, "wb") as fh:
        proc = subprocess.run(
            [go, "install", f"github.com/rhysd/actionlint/cmd/actionlint@{ACTIONLINT}"],
            env={**os.environ, "GOBIN": str(out), "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"},
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=900,
            check=False,
        )
    if proc.returncode != 0 or not binary.exists():
        pytest.fail(f"building actionlint failed (exit {proc.returncode}); see {log}")
    return binary


def _run(argv: list[str | Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=120, check=False)


def _jsonschema(schema: str, path: Path) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, path])


def test_github_actions_recipe_passes_actionlint_and_the_workflow_schema(actionlint: Path) -> None:
    lint = _run([actionlint, "-no-color", CI / "github-actions.yml"])
    assert lint.returncode == 0 and lint.stdout == "", lint.stdout + lint.stderr
    schema = _jsonschema("vendor.github-workflows", CI / "github-actions.yml")
    assert schema.returncode == 0, schema.stdout + schema.stderr


def test_actionlint_rejects_a_broken_copy(actionlint: Path, tmp_path: Path) -> None:
    text = (CI / "github-actions.yml").read_text()
    broken = tmp_path / "broken.yml"
    broken.write_text(
        text.replace("needs: [deploy-canary]", "needs: [deploy-kanary]").replace(
            "steps.gate.outputs.decision", "steps.gate.outputs.decision ||"
        )
    )
    lint = _run([actionlint, "-no-color", broken])
    assert lint.returncode == 1
    assert "deploy-kanary" in lint.stdout and "expression" in lint.stdout, lint.stdout


def test_gitlab_recipe_passes_the_vendored_gitlab_ci_schema(tmp_path: Path) -> None:
    ok = _jsonschema("vendor.gitlab-ci", CI / "gitlab-ci.yml")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = tmp_path / "broken-gitlab-ci.yml"
    broken.write_text((CI / "gitlab-ci.yml").read_text().replace("when: on_failure", "when: sometimes", 1))
    bad = _jsonschema("vendor.gitlab-ci", broken)
    assert bad.returncode == 1 and "sometimes" in bad.stdout, bad.stdout


def test_both_recipes_gate_every_phase_between_the_deploy_stages_and_keep_the_record() -> None:
    gh = yaml.safe_load((CI / "github-actions.yml").read_text())
    gl = yaml.safe_load((CI / "gitlab-ci.yml").read_text())
    gh_phases = [
        step["run"].split()[2]
        for job in gh["jobs"].values()
        for step in job["steps"]
        if "gate.sh" in step.get("run", "")
    ]
    gl_scripts = [line for job in gl.values() if isinstance(job, dict) for line in job.get("script", [])]
    gl_phases = [line.split()[2] for line in gl_scripts if "gate.sh" in line]
    assert gh_phases == GATED and gl_phases == GATED
    for name, job in gh["jobs"].items():
        if any("gate.sh" in s.get("run", "") for s in job["steps"]):
            upload = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
            assert upload and upload[0]["if"] == "always()", name
            assert job["outputs"]["decision"] == "${{ steps.gate.outputs.decision }}", name
    # a deploy stage runs only after the gate before it: canary needs the images gate, and so on
    assert gh["jobs"]["deploy-canary"]["needs"] == ["images"]
    assert gh["jobs"]["scale-half"]["needs"] == ["canary-gate"]
    assert "needs.canary-gate.outputs.decision == 'ROLLBACK'" in gh["jobs"]["roll-back"]["if"]
    assert gl[".gate"]["artifacts"]["when"] == "always"
    assert gl["roll-back"]["when"] == "on_failure" and gl["rollback_gate"]["when"] == "on_failure"


FAKE_PYTHON = """#!/usr/bin/env bash
# stands in for python: '-m pytest' writes the decision asked for by $FAKE_DECISION, exits $FAKE_RC
if [ "$1" = "-m" ] && [ "$2" = "pytest" ]; then
  for a in "$@"; do case "$a" in --reports-dir=*) dir=${a#--reports-dir=} ;; esac; done
  if [ "$FAKE_DECISION" != none ]; then printf '{"decision": "%s"}' "$FAKE_DECISION" > "$dir/decision.json"; fi
  echo "args: $*" > "$dir/args"
  exit "$FAKE_RC"
fi
exec "$REAL_PYTHON" "$@"
"""


@pytest.mark.parametrize(
    ("decision", "rc", "published", "exit_ok"),
    [
        ("PROCEED", 0, "PROCEED", True),
        ("ROLLBACK", 1, "ROLLBACK", False),
        ("STOP", 1, "STOP", False),
        ("none", 2, "ERROR", False),  # bad config: no decision at all
        ("PROCEED", 1, "ERROR", False),  # a decision that contradicts the exit code
        ("ROLLBACK", 0, "ERROR", False),  # --report-only style exit 0 with a blocking decision
        ("MAYBE", 0, "ERROR", False),
    ],
)
def test_gate_sh_publishes_the_decision_and_fails_closed(
    tmp_path: Path, decision: str, rc: int, published: str, exit_ok: bool
) -> None:
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    out = tmp_path / "github-output"
    proc = subprocess.run(
        ["bash", str(CI / "gate.sh"), "canary_gate", "--release-version=v1.0.0"],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHON": str(fake),
            "REAL_PYTHON": sys.executable,
            "FAKE_DECISION": decision,
            "FAKE_RC": str(rc),
            "GITHUB_OUTPUT": str(out),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode == 0) is exit_ok, proc.stdout + proc.stderr
    assert (tmp_path / "reports" / "canary_gate" / "DECISION").read_text().strip() == published
    assert out.read_text() == f"decision={published}\n"
    args = (tmp_path / "reports" / "canary_gate" / "args").read_text()
    assert "-m canary_gate --reports-dir=reports/canary_gate --release-version=v1.0.0" in args
