"""The nova-gate pytest plugin: options, markers, the ``gate`` fixture, verdicts and the decision.

A test becomes a gate test by carrying ``@pytest.mark.item("PRE-DB-1")``; the plugin adds the
item's phase, section and backend markers, so ``pytest -m preflight`` selects it. A session that
collects gate tests ends with a decision (PROCEED / STOP / ROLLBACK), written with the evidence to
``reports/`` and turned into the exit code. A session without gate tests (the self-tests) is left
alone.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from nova_gate import redact as redaction
from nova_gate import report
from nova_gate.catalog import BACKENDS, PHASES, SECTIONS, Catalog, Item, load_catalog
from nova_gate.config import ConfigError, LoadedEnvironment, load_environment, secret_values
from nova_gate.policy import PolicyError, Waiver, load_waivers
from nova_gate.sources.base import Source, SourceError
from nova_gate.verdict import Label, Verdict, failed

USER_PROPERTY = "nova_gate"


# --------------------------------------------------------------------------------------------
# Run state, kept in config.stash (never in globals)
# --------------------------------------------------------------------------------------------
@dataclass
class TestRecord:
    nodeid: str
    items: list[str]
    label: Label
    reason: str
    verdict: dict[str, Any] | None
    evidence: list[dict[str, Any]]
    calls: dict[str, int]
    duration: float
    waiver: dict[str, Any] | None = None


@dataclass
class RunState:
    loaded: LoadedEnvironment
    catalog: Catalog
    waivers: list[Waiver]
    reports_dir: Path
    started: dt.datetime
    secrets: list[str]
    gate_mode: bool = False
    records: dict[str, TestRecord] = field(default_factory=dict)
    collected: dict[str, list[str]] = field(default_factory=dict)  # nodeid -> items
    sources: list[Source] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)
    decision: dict[str, Any] | None = None
    #: phases named in -m: a test that also carries an item of another phase does not decide for it
    selected_phases: list[str] = field(default_factory=list)
    #: tests per item before any deselection, and why the run is narrower than its phases (partial)
    tests_per_item: dict[str, int] = field(default_factory=dict)
    narrowed_by: list[str] = field(default_factory=list)

    def redact(self, text: str) -> str:
        return redaction.redact_text(text, self.secrets)

    def redact_data(self, value: Any) -> Any:
        return redaction.redact(value, self.secrets)


STATE = pytest.StashKey[RunState]()
NODE_VERDICT = pytest.StashKey[Verdict]()
NODE_EVIDENCE = pytest.StashKey[list[dict[str, Any]]]()
NODE_CALLS = pytest.StashKey[dict[int, int]]()


def state(config: pytest.Config) -> RunState:
    return config.stash[STATE]


# --------------------------------------------------------------------------------------------
# Options and configuration
# --------------------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nova-gate", "nova-gate release gates")
    group.addoption(
        "--env",
        dest="nova_env",
        default=None,
        help="environment name (environments/NAME.yaml) or path; default $NOVA_GATE_ENV or sandbox",
    )
    group.addoption(
        "--release-version",
        dest="nova_release_version",
        default=None,
        help="override release.version of the environment",
    )
    group.addoption(
        "--baseline-version",
        dest="nova_baseline_version",
        default=None,
        help="override release.baseline_version of the environment",
    )
    group.addoption(
        "--waivers",
        dest="nova_waivers",
        default=None,
        help="waivers file (YAML): item or test id, justification, approver, expires",
    )
    group.addoption(
        "--report-only", dest="nova_report_only", action="store_true", help="record the decision but exit 0"
    )
    group.addoption(
        "--reports-dir",
        dest="nova_reports_dir",
        default=None,
        help="where the audit record is written (default: reports/)",
    )
    group.addoption(
        "--item",
        dest="nova_items",
        action="append",
        default=[],
        help="run only the tests of this checklist item id (repeatable)",
    )
    group.addoption(
        "--operator",
        dest="nova_operator",
        default=None,
        help="who runs the gate (default: $NOVA_GATE_OPERATOR or $USER)",
    )
    group.addoption(
        "--release-sha",
        dest="nova_release_sha",
        default=None,
        help="git sha of the release, recorded in the audit record",
    )
    group.addoption(
        "--no-reports",
        dest="nova_no_reports",
        action="store_true",
        help="do not write the audit record (dry runs)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Load and validate the environment and waivers once; a bad file exits 2 without traceback."""
    if config.option.help or config.option.version:
        return None
    root, here = Path(config.rootpath), Path(config.invocation_params.dir)
    if (here / "environments").is_dir() and root != here and root not in here.parents and here not in root.parents:
        sys.stderr.write(
            f"nova-gate: pytest took {root} for the project root: an option value that is an existing path "
            "was read as a test path before nova-gate's options were known; write --option=VALUE\n"
        )
        return 2
    explicit = config.option.nova_env or os.environ.get("NOVA_GATE_ENV")
    if not explicit and not (root / "environments").is_dir():
        return None  # installed but not in a nova-gate project: stay inert
    try:
        loaded = load_environment(
            config.option.nova_env,
            release_version=config.option.nova_release_version,
            baseline_version=config.option.nova_baseline_version,
        )
        catalog = load_catalog()
        _check_options(config, catalog)
        waivers_path = config.option.nova_waivers or os.environ.get("NOVA_GATE_WAIVERS")
        policy = loaded.env.policy
        waivers = (
            load_waivers(
                Path(waivers_path),
                known_items=catalog.ids,
                approvers=policy.approvers,
                max_days=policy.waiver_max_days,
            )
            if waivers_path
            else []
        )
    except (ConfigError, PolicyError) as exc:
        sys.stderr.write(f"nova-gate: {exc}\n")
        return 2
    reports_dir = Path(config.option.nova_reports_dir or Path(config.rootpath) / "reports")
    config.stash[STATE] = RunState(
        loaded=loaded,
        catalog=catalog,
        waivers=waivers,
        reports_dir=reports_dir,
        started=dt.datetime.now(dt.UTC),
        secrets=secret_values(loaded.env),
    )
    return None


def _check_options(config: pytest.Config, catalog: Catalog) -> None:
    """Options that reach the record, file names and the terminal are validated (nova_gate.policy)."""
    from nova_gate.policy import check_name

    if config.option.nova_operator is not None:
        check_name(config.option.nova_operator, "--operator")
    sha = config.option.nova_release_sha
    if sha is not None and not re.match(r"^[0-9a-fA-F]{7,64}$", sha):
        raise PolicyError(f"--release-sha: {sha!r} is not a git sha (7-64 hex digits)")
    bad = [i for i in config.option.nova_items if i not in catalog]
    if bad:
        raise PolicyError(f"--item: unknown checklist item {bad[0]!r}")


@pytest.hookimpl(tryfirst=True)  # before pytest-html's, which reads htmlpath in its own pytest_configure
def pytest_configure(config: pytest.Config) -> None:

    config.addinivalue_line("markers", "item(*ids): the checklist item(s) this test verifies")
    for phase in PHASES:
        config.addinivalue_line("markers", f"{phase}: checklist phase {phase}")
    for section in SECTIONS.values():
        config.addinivalue_line("markers", f"{section}: preflight section {section}")
    for backend in BACKENDS:
        config.addinivalue_line("markers", f"{backend}: needs the {backend} backend")
    if STATE not in config.stash or hasattr(config, "workerinput"):
        return
    st = state(config)
    st.selected_phases = marked_phases(config.option.markexpr or "")
    if not (config.option.nova_no_reports or config.option.collectonly) and _looks_like_gate_run(config):
        _arm_reports(config, st)


def _looks_like_gate_run(config: pytest.Config) -> bool:
    """Gate runs select checks/, gates/ or smoke/; the self-tests (tests/) do not."""
    args = [a for a in config.args if not a.startswith("-")] or list(config.getini("testpaths"))
    return any(Path(a).parts and Path(a).parts[0] in ("checks", "gates", "smoke") for a in args) or any(
        "/checks" in a or "/gates" in a or "/smoke" in a for a in args
    )


def marked_phases(markexpr: str) -> list[str]:
    """Phases a -m expression selects (a phase preceded by ``not`` is not one of them)."""
    tokens = markexpr.replace("(", " ").replace(")", " ").split()
    return list(dict.fromkeys(t for i, t in enumerate(tokens) if t in PHASES and (i == 0 or tokens[i - 1] != "not")))


def _run_label(config: pytest.Config, catalog: Catalog) -> str:
    phases = marked_phases(config.option.markexpr or "")

    if not phases and config.option.nova_items:
        phases = sorted({catalog[i].phase for i in config.option.nova_items if i in catalog}, key=PHASES.index)
    return "+".join(dict.fromkeys(phases)) or "all"


def _arm_reports(config: pytest.Config, st: RunState) -> None:
    st.reports_dir.mkdir(parents=True, exist_ok=True)
    stamp = st.started.strftime("%Y%m%dT%H%M%SZ")
    base = f"{_run_label(config, st.catalog)}-{st.loaded.env.release.version}-{stamp}"
    st.outputs["base"] = base
    if config.pluginmanager.hasplugin("html") and not config.option.htmlpath:
        config.option.htmlpath = str(st.reports_dir / f"{base}.html")
        config.option.self_contained_html = True
    if not config.option.xmlpath:
        config.option.xmlpath = str(st.reports_dir / f"{base}.xml")
    st.outputs["html"] = config.option.htmlpath or ""
    st.outputs["junit"] = config.option.xmlpath
    _add_metadata(config, st)


def _add_metadata(config: pytest.Config, st: RunState) -> None:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover - pytest-html always brings pytest-metadata
        return
    meta = config.stash.get(metadata_key, None)
    if meta is None:
        return
    for key in list(meta):  # packages/plugins lists are noise in a release record
        if key in ("Packages", "Plugins"):
            del meta[key]
    meta.update(report.run_metadata(config, st))


# --------------------------------------------------------------------------------------------
# Collection: item markers become phase/section/backend markers
# --------------------------------------------------------------------------------------------
def item_ids(node: pytest.Item) -> list[str]:
    ids: list[str] = []
    for mark in node.iter_markers("item"):
        ids.extend(str(a) for a in mark.args)
    return list(dict.fromkeys(ids))


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if STATE not in config.stash:
        return
    st = state(config)
    unknown: list[str] = []
    for node in items:
        ids = item_ids(node)
        for item_id in ids:
            item = st.catalog.get(item_id)
            if item is None:
                unknown.append(f"{node.nodeid}: unknown checklist item {item_id!r}")
                continue
            for name in item.markers:
                node.add_marker(name)
            node.keywords[item_id] = True
        if ids:
            node.user_properties.append(("checklist_items", ",".join(ids)))
    if unknown:
        raise pytest.UsageError("; ".join(unknown))
    for node in items:
        for item_id in item_ids(node):
            st.tests_per_item[item_id] = st.tests_per_item.get(item_id, 0) + 1
    st.narrowed_by = _narrowing(config)
    wanted = set(config.option.nova_items)
    if wanted:
        bad = sorted(wanted - set(st.catalog.ids))
        if bad:
            raise pytest.UsageError(f"--item: unknown checklist item(s) {', '.join(bad)}")
        keep = [n for n in items if wanted & set(item_ids(n))]
        config.hook.pytest_deselected(items=[n for n in items if n not in keep])
        items[:] = keep


def _narrowing(config: pytest.Config) -> list[str]:
    """Options that select part of a phase: such a run is partial and never decides PROCEED."""
    why = []
    if config.option.nova_items:
        ids = config.option.nova_items
        why.append("--item " + ",".join(ids[:5]) + (f" (+{len(ids) - 5} more)" if len(ids) > 5 else ""))
    if getattr(config.option, "keyword", ""):
        why.append(f"-k {config.option.keyword}")
    if getattr(config.option, "deselect", None):
        why.append("--deselect")
    if any("::" in str(a) for a in config.args):
        why.append("test node ids on the command line")
    if getattr(config.option, "lf", False) or getattr(config.option, "last_failed", False):
        why.append("--last-failed")
    return why


def pytest_collection_finish(session: pytest.Session) -> None:
    if STATE not in session.config.stash:
        return
    st = state(session.config)
    st.collected = {n.nodeid: item_ids(n) for n in session.items if item_ids(n)}
    st.gate_mode = bool(st.collected)


# --------------------------------------------------------------------------------------------
# The gate fixture: how a check hands over its verdict
# --------------------------------------------------------------------------------------------
class Gate:
    """Judge a check: record the verdict and evidence, fail the test when it blocks the release."""

    def __init__(self, node: pytest.Item, st: RunState) -> None:
        self._node = node
        self._st = st
        self.items: list[Item] = [st.catalog[i] for i in item_ids(node) if i in st.catalog]
        node.stash[NODE_EVIDENCE] = []

    @property
    def env(self) -> Any:
        return self._st.loaded.env

    def evidence(self, **facts: Any) -> None:
        """Record what the check saw: source, query, observed, threshold, window, timestamps."""
        facts.setdefault("at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        self._node.stash[NODE_EVIDENCE].append(self._st.redact_data(report.jsonable(facts)))

    def judge(self, verdict: Verdict, *, severity_applies: bool = True) -> Verdict:
        """Record the verdict; FAIL and INCONCLUSIVE fail the test (after the item's severity)."""
        if severity_applies:
            severities = {item.severity for item in self.items}
            if severities == {"warn"}:
                verdict = verdict.with_severity("warn")
        self._node.stash[NODE_VERDICT] = verdict
        if verdict.label.blocks:
            pytest.fail(f"{verdict.label}: {self._st.redact(verdict.reason)}", pytrace=False)
        return verdict


@pytest.fixture
def gate(request: pytest.FixtureRequest) -> Gate:
    """The checklist gate of this test: ``gate.judge(rule(facts))``, ``gate.evidence(...)``."""
    st = state(request.config)
    request.node.stash[NODE_CALLS] = {id(s): s.calls for s in st.sources}
    return Gate(request.node, st)


def register_source(config: pytest.Config, source: Source) -> None:
    """Fixtures call this so that backend calls are counted per test in the evidence."""
    state(config).sources.append(source)


# --------------------------------------------------------------------------------------------
# Reports: attach verdict and evidence, turn errors into one-line FAILs
# --------------------------------------------------------------------------------------------
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    rep: pytest.TestReport = outcome.get_result()
    config = item.config
    if STATE not in config.stash or not item_ids(item):
        return
    st = state(config)
    if rep.when == "call" or (rep.when == "setup" and not rep.passed):
        verdict = item.stash.get(NODE_VERDICT, None)
        if rep.skipped:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            verdict = Verdict(Label.INCONCLUSIVE, f"skipped: {reason}")
        elif rep.failed and (verdict is None or not verdict.label.blocks):
            verdict = _verdict_from_error(call)
            rep.longrepr = f"{verdict.label}: {st.redact(verdict.reason)}"
        elif verdict is None:
            verdict = failed("the check ended without a verdict (a check must call gate.judge)")
            rep.outcome = "failed"
            rep.longrepr = verdict.reason
        before = item.stash.get(NODE_CALLS, {})
        calls: dict[str, int] = {}
        for source in st.sources:
            delta = source.calls - before.get(id(source), 0)
            if delta:
                calls[source.backend] = calls.get(source.backend, 0) + delta
        payload = {
            "items": item_ids(item),
            "verdict": verdict.as_dict(),
            "evidence": item.stash.get(NODE_EVIDENCE, []),
            "calls": calls,
        }
        payload = st.redact_data(report.jsonable(payload))
        rep.user_properties.append((USER_PROPERTY, st.redact(json.dumps(payload))))
        if rep.longrepr is not None and not isinstance(rep.longrepr, str | tuple):
            text = st.redact(str(rep.longrepr))
            rep.longrepr = text
        if rep.when == "call" or not rep.passed:
            rep.extras = [*getattr(rep, "extras", []), *report.html_extras(payload)]  # type: ignore[attr-defined]
    _redact_report(rep, st)


_LOGGED_TRACEBACK = re.compile(r"Traceback \(most recent call last\):\n(?:[ \t]+.*\n)+(\S.*)")


def _redact_report(rep: pytest.TestReport, st: RunState) -> None:
    """Captured output and logs go into the HTML and JUnit: redact them too (nova_gate.redact).
    A driver's logged traceback (kafka-python logs every reset connection) becomes its last line."""
    rep.sections = [
        (title, _LOGGED_TRACEBACK.sub(r"(driver traceback omitted) \1", st.redact(text)))
        for title, text in rep.sections
    ]
    if isinstance(rep.longrepr, str):
        rep.longrepr = st.redact(rep.longrepr)


def _verdict_from_error(call: pytest.CallInfo[None]) -> Verdict:
    exc = call.excinfo.value if call.excinfo else None
    if isinstance(exc, SourceError):
        return failed(str(exc))
    if call.excinfo is not None and call.excinfo.typename == "Failed":
        return failed(str(exc))
    if exc is not None and type(exc).__name__ == "Timeout":
        return failed(f"timed out: {exc}")
    name = call.excinfo.typename if call.excinfo else "error"
    return failed(f"check crashed: {name}: {' '.join(str(exc).split())[:300]}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect verdicts on the controller (also from xdist workers)."""
    config = _CONFIG.get("config")
    if config is None or STATE not in config.stash or hasattr(config, "workerinput"):
        return
    props = dict(report.user_properties)
    if USER_PROPERTY not in props:
        return
    payload = json.loads(str(props[USER_PROPERTY]))
    verdict = payload["verdict"]
    state(config).records[report.nodeid] = TestRecord(
        nodeid=report.nodeid,
        items=payload["items"],
        label=Label(verdict["label"]),
        reason=verdict["reason"],
        verdict=verdict,
        evidence=payload["evidence"],
        calls=payload["calls"],
        duration=round(report.duration, 3),
    )


_CONFIG: dict[str, pytest.Config] = {}


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    _CONFIG["config"] = session.config


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if STATE not in config.stash or hasattr(config, "workerinput"):
        return
    st = state(config)
    if not st.gate_mode or config.option.collectonly:
        return
    for source in st.sources:
        with contextlib.suppress(Exception):
            source.close()
    st.decision = report.decide(st)
    if not config.option.nova_no_reports and st.outputs.get("base"):
        report.write_records(config, st)
    if exitstatus in (0, 1) or (exitstatus == 5 and st.decision["decision"] != "PROCEED"):
        proceed = st.decision["decision"] == "PROCEED"
        session.exitstatus = 0 if proceed or config.option.nova_report_only else 1


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """After pytest-html and JUnit have written their files: the signed manifest (nova_gate.signing)."""
    if STATE not in config.stash or hasattr(config, "workerinput"):
        return
    st = state(config)
    if st.decision is None or not st.outputs.get("evidence") or config.option.nova_no_reports:
        return
    from nova_gate import signing

    base = st.outputs["base"]
    names = [f"{base}.evidence.json", f"{base}.evidence.json.sha256", f"{base}.decision.json"]
    files = [st.reports_dir / n for n in names]
    files += [Path(st.outputs[k]) for k in ("html", "junit") if st.outputs.get(k)]
    try:
        signing.write_manifest(st.reports_dir, base, files)
    except (signing.SigningError, OSError) as exc:
        sys.stderr.write(f"nova-gate: the record is not signed: {exc}\n")


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if STATE not in config.stash or hasattr(config, "workerinput"):
        return
    st = state(config)
    if st.decision is not None:
        report.terminal_summary(terminalreporter, st)


def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    config = session.config
    if STATE in config.stash and state(config).decision is not None:
        prefix.extend(report.html_summary(state(config)))


def pytest_html_report_title(report: Any) -> None:
    config = _CONFIG.get("config")
    if config is not None and STATE in config.stash:
        st = state(config)
        report.title = f"nova-gate {st.outputs.get('base', '')}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``service`` is parametrized over the release's services (readable ids: the names)."""
    if "service" in metafunc.fixturenames and STATE in metafunc.config.stash:
        names = state(metafunc.config).loaded.env.service_names
        metafunc.parametrize("service", names, ids=names)
