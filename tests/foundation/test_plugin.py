"""The plugin next to other plugins and in a host repository: JUnit properties read with a JUnit
parser, ``-p no:...``, ini keys, host items and tests, exit codes, concurrent runs, pytest-xdist.

Every run here is a real pytest subprocess in a temporary "release repository" with its own
pyproject.toml, conftest.py (own checklist items) and tests; no backend is touched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from junitparser import Failure, JUnitXml, Properties, Skipped

from nova_gate.plugin import EXIT_BAD_INPUT, EXIT_PARTIAL, EXIT_PROCEED, EXIT_ROLLBACK, EXIT_STOP
from nova_gate.report import verify_evidence

ROOT = Path(__file__).resolve().parents[2]

CONFTEST = """
import os, time

def pytest_nova_gate_items(config):
    return [
        {"id": "HOST-PASS", "phase": "preflight", "text": "host check that passes"},
        {"id": "HOST-WARN", "phase": "preflight", "text": "host check that warns", "severity": "warn"},
        {"id": "HOST-FAIL", "phase": "preflight", "text": "host check that fails"},
        {"id": "HOST-NODATA", "phase": "preflight", "text": "host check without data"},
        {"id": "HOST-WAIVED", "phase": "preflight", "text": "host check that fails, waived"},
        {"id": "HOST-SKIP", "phase": "preflight", "text": "host check that skips"},
        {"id": "HOST-CANARY", "phase": "canary_gate", "text": "host canary check"},
    ]

def pytest_configure(config):
    delay = float(os.environ.get("HOST_TEST_DELAY", "0"))
    if delay:
        time.sleep(delay)  # keeps two concurrent runs overlapping
"""

TESTS = """
import os
import pytest
from nova_gate.verdict import failed, inconclusive, passed, warned

@pytest.mark.item("HOST-PASS")
def test_pass(gate):
    gate.evidence(source="host", observed=1)
    gate.judge(passed("all good", observed=1, expected=1))

@pytest.mark.item("HOST-WARN")
def test_warn(gate):
    gate.judge(warned("slightly off", observed=2, expected=1))

@pytest.mark.item("HOST-FAIL")
def test_fail(gate):
    gate.judge(failed("broken", observed=0, expected=1))

@pytest.mark.item("HOST-NODATA")
def test_nodata(gate):
    gate.judge(inconclusive("no samples"))

@pytest.mark.item("HOST-WAIVED")
def test_waived(gate):
    gate.judge(failed("known issue", observed=0, expected=1))

@pytest.mark.item("HOST-SKIP")
def test_skip(gate):
    pytest.skip("backend not reachable from this runner")

@pytest.mark.item("HOST-CANARY")
def test_canary(gate):
    if os.environ.get("HOST_CANARY_FAIL"):
        gate.judge(failed("canary errors"))
    gate.judge(passed("canary fine"))

def test_plain_unit_test():
    assert True
"""

PYPROJECT = """
[tool.pytest.ini_options]
addopts = ["-p", "no:cacheprovider"]
nova_gate_env = "{env}"
nova_gate_reports_dir = "audit"
nova_gate_waivers = "waivers.yaml"
"""

WAIVERS = """
waivers:
  - item: HOST-WAIVED
    justification: tracked in REL-42, fixed next release
    approver: jane.doe
    expires: {expires}
"""

EXPECTED = {
    "HOST-PASS": "PASS",
    "HOST-WARN": "WARN",
    "HOST-FAIL": "FAIL",
    "HOST-NODATA": "INCONCLUSIVE",
    "HOST-WAIVED": "WAIVED",
    "HOST-SKIP": "INCONCLUSIVE",
}


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A release repository that uses nova-gate as a plugin, with its own items and tests."""
    repo = tmp_path / "release-repo"
    (repo / "tests").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(PYPROJECT.format(env=ROOT / "environments" / "sandbox.yaml"))
    (repo / "conftest.py").write_text(CONFTEST)
    (repo / "tests" / "test_host_checks.py").write_text(TESTS)
    # within the sandbox policy's waiver lifetime (14 days)
    expires = (dt.date.today() + dt.timedelta(days=7)).isoformat()
    (repo / "waivers.yaml").write_text(WAIVERS.format(expires=expires))
    return repo


class Run:
    def __init__(self, proc: subprocess.CompletedProcess[str], repo: Path) -> None:
        self.returncode = proc.returncode
        self.output = proc.stdout + proc.stderr
        self.repo = repo

    def decision(self, path: str = "audit/decision.json") -> dict[str, Any]:
        file = self.repo / path
        assert file.exists(), self.output[-3000:]
        data: dict[str, Any] = json.loads(file.read_text())
        return data


def _argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", *args]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOVA_GATE_") or k == "NOVA_GATE_SANDBOX_DIR"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return {**env, **(extra or {})}


def run_host(repo: Path, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 120) -> Run:
    proc = subprocess.run(
        _argv(*args), cwd=repo, capture_output=True, text=True, timeout=timeout, env=_env(extra_env), check=False
    )
    return Run(proc, repo)


def _junit_cases(path: Path) -> dict[str, Any]:
    xml = JUnitXml.fromfile(str(path))
    cases = {}
    for suite in xml:
        for case in suite:
            props: dict[str, list[str]] = {}
            for block in case.iterchildren(Properties):  # <properties> of the <testcase>
                for prop in block:
                    props.setdefault(prop.name, []).append(prop.value)
            cases[case.name] = (case, props)
    return cases


def test_junit_has_item_verdict_and_reason_per_testcase(host: Path) -> None:
    run = run_host(host, "-m", "preflight")
    assert run.returncode == EXIT_STOP, run.output
    decision = run.decision()
    assert decision["items"] == EXPECTED
    junit = run.repo / "audit" / Path(json.loads((host / "audit" / "latest.json").read_text())["junit"])
    cases = _junit_cases(junit)
    verdicts = {name: props["verdict"][0] for name, (_, props) in cases.items()}
    assert verdicts == {
        "test_pass": "PASS",
        "test_warn": "WARN",
        "test_fail": "FAIL",
        "test_nodata": "INCONCLUSIVE",
        "test_waived": "WAIVED",
        "test_skip": "INCONCLUSIVE",
    }
    for name, (_case, props) in cases.items():
        assert len(props["item"]) == 1 and props["item"][0].startswith("HOST-"), name
        assert props["phase"] == ["preflight"]
        assert props["reason"][0], name
    # how a CI test reporter sees them: WARN passes, FAIL and INCONCLUSIVE fail, WAIVED is skipped
    outcome = {name: type(case.result[0]).__name__ if case.result else "passed" for name, (case, _) in cases.items()}
    assert outcome == {
        "test_pass": "passed",
        "test_warn": "passed",
        "test_fail": "Failure",
        "test_nodata": "Failure",
        "test_waived": "Skipped",
        "test_skip": "Failure",
    }
    assert isinstance(cases["test_nodata"][0].result[0], Failure)
    assert cases["test_nodata"][0].result[0].message.startswith("INCONCLUSIVE: no samples")
    waived = cases["test_waived"][0].result[0]
    assert isinstance(waived, Skipped) and waived.message.startswith("WAIVED (FAIL) by jane.doe until ")
    assert cases["test_waived"][1]["waived_verdict"] == ["FAIL"]
    assert "REL-42" in cases["test_waived"][1]["waiver"][0]
    assert cases["test_warn"][1]["reason"] == ["slightly off"]


@pytest.mark.parametrize(
    "flags",
    [["-p", "no:html"], ["-p", "no:junitxml"], ["-p", "no:html", "-p", "no:junitxml"], ["-p", "no:cacheprovider"]],
    ids=["no-html", "no-junitxml", "no-html-no-junitxml", "no-cacheprovider"],
)
def test_other_plugins_can_be_disabled(host: Path, flags: list[str]) -> None:
    run = run_host(host, "-m", "preflight", *flags)
    assert run.returncode == EXIT_STOP, run.output
    assert "INTERNALERROR" not in run.output and "Traceback" not in run.output
    assert run.decision()["items"] == EXPECTED
    latest = json.loads((host / "audit" / "latest.json").read_text())
    names = {p.name for p in (host / "audit").iterdir()}
    assert (latest["html"] is None) == ("no:html" in flags) and (latest["junit"] is None) == ("no:junitxml" in flags)
    assert not any(n.endswith(".html") for n in names) or "no:html" not in flags
    ok, message = verify_evidence(host / "audit" / latest["evidence_file"])
    assert ok, message


def test_host_items_and_tests_are_in_the_record(host: Path) -> None:
    run = run_host(host, "-k", "pass or canary", "--operator=release-bot")
    # narrowed with -k, and the catalog's own items of these phases are not in the run: PARTIAL
    assert run.returncode == EXIT_PARTIAL, run.output
    assert run.decision()["decision"] == "PARTIAL"
    decision = run.decision()
    assert decision["items"] == {"HOST-PASS": "PASS", "HOST-CANARY": "PASS"}
    evidence = json.loads((host / "audit" / decision["evidence_file"]).read_text())
    test = next(t for t in evidence["tests"] if t["nodeid"].endswith("test_pass"))
    assert test["evidence"][0]["source"] == "host" and test["verdict"]["observed"] == 1
    assert evidence["meta"]["Operator"] == "release-bot"


def test_exit_codes(host: Path) -> None:
    # only the host's own canary item passed: the phase's checklist items were not judged, so PARTIAL
    assert run_host(host, "-m", "canary_gate").returncode == EXIT_PARTIAL
    rollback = run_host(host, "-m", "canary_gate", extra_env={"HOST_CANARY_FAIL": "1"})
    assert rollback.returncode == EXIT_ROLLBACK and rollback.decision()["decision"] == "ROLLBACK"
    assert run_host(host, "-m", "preflight").returncode == EXIT_STOP
    assert run_host(host, "-m", "preflight", "--report-only").returncode == EXIT_PROCEED
    bad = run_host(host, "-m", "preflight", "--env=missing.yaml")
    assert bad.returncode == EXIT_BAD_INPUT and "missing.yaml:<file>: no such environment file" in bad.output
    assert "Traceback" not in bad.output
    empty = run_host(host, "-m", "preflight", "-k", "no_such_test")
    assert empty.returncode == 5  # pytest's "no tests collected", never a pass
    assert empty.decision()["decision"] == "STOP"
    assert run_host(host, "-m", "preflight", "--item=NOPE-1").returncode == EXIT_BAD_INPUT  # unknown item


def test_a_bad_host_item_is_bad_input(host: Path) -> None:
    conftest = host / "conftest.py"
    conftest.write_text(conftest.read_text().replace('"phase": "canary_gate"', '"phase": "canary"'))
    run = run_host(host, "-m", "preflight")
    assert run.returncode == EXIT_BAD_INPUT
    assert "pytest_nova_gate_items:HOST-CANARY:phase: unknown phase 'canary'" in run.output
    assert "Traceback" not in run.output


def test_decision_file_is_this_runs_and_never_stale(host: Path) -> None:
    target = host / "ci" / "decision.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"decision": "PROCEED", "stale": True}))
    bad = run_host(host, "-m", "preflight", f"--decision-file={target}", "--waivers=nonexistent.yaml")
    assert bad.returncode == EXIT_BAD_INPUT
    assert not target.exists()  # an earlier run's PROCEED is gone, not read as this run's
    run = run_host(host, "-m", "preflight", f"--decision-file={target}")
    decision = json.loads(target.read_text())
    assert decision["decision"] == "STOP" and decision["items"] == EXPECTED
    assert f"decision_file: {target}" in run.output


def test_two_gates_at_once_keep_their_own_records(host: Path) -> None:
    """Two CI jobs on one runner: the same reports directory, started together, finishing together."""
    procs = []
    for name, args in (("a", ["-m", "preflight"]), ("b", ["-m", "canary_gate"])):
        argv = _argv(*args, f"--decision-file=decision-{name}.json")
        procs.append(
            subprocess.Popen(
                argv, cwd=host, env=_env({"HOST_TEST_DELAY": "1"}), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        )
    outputs = [p.communicate(timeout=120)[0].decode() for p in procs]
    assert [p.returncode for p in procs] == [EXIT_STOP, EXIT_PARTIAL], outputs
    a = json.loads((host / "decision-a.json").read_text())
    b = json.loads((host / "decision-b.json").read_text())
    assert a["items"] == EXPECTED and a["decision"] == "STOP"
    assert b["items"] == {"HOST-CANARY": "PASS"} and b["decision"] == "PARTIAL"
    assert a["run_id"] != b["run_id"] and a["evidence_file"] != b["evidence_file"]
    audit = host / "audit"
    for d in (a, b):
        assert json.loads((audit / d["decision_file"]).read_text()) == d
        ok, message = verify_evidence(audit / d["evidence_file"])
        assert ok, message
        evidence = json.loads((audit / d["evidence_file"]).read_text())
        assert evidence["decision"]["items"] == d["items"]
        assert evidence["meta"]["Run id"] == d["run_id"]
    # the "latest" pointers name one of the two runs, and agree with each other
    latest = json.loads((audit / "latest.json").read_text())
    assert latest["run_id"] in (a["run_id"], b["run_id"])
    assert json.loads((audit / "decision.json").read_text())["run_id"] == latest["run_id"]
    ok, message = verify_evidence(audit / "evidence.json")
    assert ok, message
    assert json.loads((audit / "evidence.json").read_text())["meta"]["Run id"] == latest["run_id"]


def test_xdist_gives_the_serial_decision_and_verdicts(host: Path) -> None:
    serial = run_host(host, "-m", "preflight", "--decision-file=serial.json")
    parallel = run_host(host, "-m", "preflight", "-n", "2", "--decision-file=parallel.json")
    assert serial.returncode == parallel.returncode == EXIT_STOP, parallel.output
    s, p = serial.decision("serial.json"), parallel.decision("parallel.json")
    for key in ("decision", "items", "counts", "phases", "reasons"):
        assert s[key] == p[key], key
    evidence = json.loads((host / "audit" / p["evidence_file"]).read_text())
    assert len(evidence["tests"]) == len(EXPECTED)
    assert {t["worker"] for t in evidence["tests"]} <= {"gw0", "gw1"}
    junit = host / "audit" / json.loads((host / "audit" / "latest.json").read_text())["junit"]
    verdicts = {name: props["verdict"][0] for name, (_, props) in _junit_cases(junit).items() if "verdict" in props}
    assert len(verdicts) == len(EXPECTED) and verdicts["test_waived"] == "WAIVED"
    report_only = run_host(host, "-m", "preflight", "-n", "2", "--report-only", "--decision-file=ro.json")
    assert report_only.returncode == EXIT_PROCEED and report_only.decision("ro.json")["decision"] == "STOP"


def test_ini_keys_are_below_the_command_line(host: Path, tmp_path: Path) -> None:
    run = run_host(host, "-m", "canary_gate", f"--reports-dir={tmp_path / 'cli-reports'}")
    assert run.returncode == EXIT_PARTIAL
    assert (tmp_path / "cli-reports" / "decision.json").exists()
    assert not (host / "audit").exists()
    ini = (host / "pyproject.toml").read_text()
    (host / "pyproject.toml").write_text(ini.replace('nova_gate_env = "', 'nova_gate_env = "/nonexistent/'))
    bad = run_host(host, "-m", "canary_gate")
    assert bad.returncode == EXIT_BAD_INPUT and "/nonexistent/" in bad.output
    # an environment by name, from a configured directory
    envs = host / "envs"
    envs.mkdir()
    (envs / "staging-eu.yaml").write_text(
        (ROOT / "environments" / "sandbox.yaml").read_text().replace("../", f"{ROOT}/")
    )
    named = run_host(host, "-m", "canary_gate", "--env=staging-eu", f"--env-dir={envs}")
    assert named.returncode == EXIT_PARTIAL, named.output
    assert (
        f"{envs / 'staging-eu.yaml'}"
        in json.loads((host / "audit" / "evidence.json").read_text())["meta"]["Environment"]
    )


def test_without_an_environment_the_plugin_is_inert_and_says_why(host: Path) -> None:
    ini = (host / "pyproject.toml").read_text()
    (host / "pyproject.toml").write_text("\n".join(line for line in ini.splitlines() if "nova_gate_" not in line))
    run = run_host(host, "-k", "pass or plain")
    assert run.returncode == 1, run.output  # pytest's own: the gate test errored, the plain test passed
    assert "no environment chosen: give --env=NAME|PATH, $NOVA_GATE_ENV or ini nova_gate_env" in run.output
    assert "1 passed" in run.output and not (host / "audit").exists() and not (host / "reports").exists()


def test_a_gate_test_that_kills_its_xdist_worker_is_a_fail(host: Path) -> None:
    (host / "tests" / "test_crash.py").write_text(
        "import os, pytest\n\n@pytest.mark.item('HOST-PASS')\ndef test_dies(gate):\n    os._exit(3)\n"
    )
    run = run_host(host, "-m", "preflight", "-k", "pass or dies", "-n", "2", "--decision-file=d.json")
    assert run.returncode == EXIT_STOP, run.output
    decision = run.decision("d.json")
    assert decision["items"] == {"HOST-PASS": "FAIL"}
    assert "the test's process died: worker 'gw" in decision["reasons"]["HOST-PASS"][0]


CALLS_TESTS = """
import pytest
from nova_gate.backends.base import Source, SourceError
from nova_gate.plugin import register_source
from nova_gate.verdict import passed

class Counted(Source):
    backend = "counted"

    def ask(self, n):
        for _ in range(n):
            with self.call("ask"):
                pass

@pytest.fixture(scope="session")
def counted(pytestconfig):
    source = Counted()
    register_source(pytestconfig, source)
    source.ask(5)  # a session fetch: charged to the first test whose setup makes it
    return source

@pytest.fixture(scope="module")
def broken(counted):
    counted.ask(2)
    raise SourceError("counted", "ask", "down")

@pytest.mark.item("HOST-PASS")
def test_first(counted, gate):
    counted.ask(1)
    gate.judge(passed("ok"))

@pytest.mark.item("HOST-FAIL")
def test_setup_fails(broken, gate):
    gate.judge(passed("never"))

@pytest.mark.item("HOST-NODATA")
def test_setup_fails_again(broken, gate):
    gate.judge(passed("never"))
"""


def test_calls_are_charged_from_the_setup_of_the_test_that_made_them(host: Path) -> None:
    """A test is charged the calls of its own setup and body: the session's fixtures' first fetch goes
    to the first test that needs it, a test whose setup fails is charged that setup's calls only (not
    the session's running total), and the record's totals are every call the session made."""
    (host / "tests" / "test_host_checks.py").unlink()
    (host / "tests" / "test_calls.py").write_text(CALLS_TESTS)
    run = run_host(host, "-m", "preflight")
    decision = run.decision()
    evidence = json.loads((host / "audit" / decision["evidence_file"]).read_text())
    calls = {t["nodeid"].split("::")[-1]: t["calls"] for t in evidence["tests"]}
    assert calls == {
        "test_first": {"counted": 6},
        "test_setup_fails": {"counted": 2},
        "test_setup_fails_again": {},
    }, run.output[-2000:]
    assert evidence["backend_calls"] == {"counted": 8}
