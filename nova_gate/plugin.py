"""The nova-gate pytest plugin: options, markers, the ``gate`` fixture and the hooks that feed a session.

A test becomes a gate test by carrying ``@pytest.mark.item("PRE-DB-1")``; the plugin adds the
item's phase, section and backend markers, so ``pytest -m preflight`` selects it. A session that
selects gate tests ends with a decision (PROCEED / STOP / ROLLBACK), written with the evidence to
the reports directory and turned into the exit code (see ``EXIT_CODES``). A session that selects no
gate tests (the self-tests, a host repository's own unit tests) is left alone.

Like pytest-html v4 the plugin only wires things. The run's state is one
``nova_gate.session.RunState`` in ``config.stash``; the tests' verdicts travel on their reports
(``user_properties``), so that with pytest-xdist the workers judge and the controller alone decides
(``nova_gate.decision.decide``, pure) and renders the one record (``nova_gate.report``, the JUnit
properties here, the signed manifest in ``nova_gate.signing``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from nova_gate import decision, report
from nova_gate.backends.base import Source, SourceError
from nova_gate.catalog import (
    BACKENDS,
    PHASES,
    SECTIONS,
    Catalog,
    HostItemError,
    Item,
    load_catalog,
    with_host_items,
)
from nova_gate.config import ENV_DIR_NAME, ConfigError, load_environment, secret_values
from nova_gate.policy import PolicyError, load_waivers
from nova_gate.session import RunState, TestRecord
from nova_gate.verdict import Label, Verdict, failed

#: the user property (on the call report only) that carries a test's verdict and evidence as JSON
USER_PROPERTY = "nova_gate"
#: the packaged suite: ``pytest --pyargs nova_gate.suite -m preflight --env=prod.yaml``
SUITE_PACKAGE = "nova_gate.suite"

# the exit codes live with the decision; re-exported here for callers that know the plugin
EXIT_BAD_INPUT = decision.EXIT_BAD_INPUT
EXIT_CODES = decision.EXIT_CODES
EXIT_PARTIAL = decision.EXIT_PARTIAL
EXIT_PROCEED = decision.EXIT_PROCEED
EXIT_ROLLBACK = decision.EXIT_ROLLBACK
EXIT_STOP = decision.EXIT_STOP

# ini keys (pyproject.toml [tool.pytest.ini_options] or pytest.ini), below the command line and $NOVA_GATE_*
INI_ENV = "nova_gate_env"
INI_ENV_DIR = "nova_gate_env_dir"
INI_REPORTS_DIR = "nova_gate_reports_dir"
INI_WAIVERS = "nova_gate_waivers"


# --------------------------------------------------------------------------------------------
# Run state: one nova_gate.session.RunState in config.stash (never in globals)
# --------------------------------------------------------------------------------------------
STATE = pytest.StashKey[RunState]()
NODE_VERDICT = pytest.StashKey[Verdict]()
NODE_EVIDENCE = pytest.StashKey[list[dict[str, Any]]]()
NODE_CALLS = pytest.StashKey[dict[int, int]]()


def state(config: pytest.Config) -> RunState:
    if STATE not in config.stash:
        raise SourceError("nova-gate", f"no environment chosen: give --env=NAME|PATH, $NOVA_GATE_ENV or ini {INI_ENV}")
    return config.stash[STATE]


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# --------------------------------------------------------------------------------------------
# Options and configuration
# --------------------------------------------------------------------------------------------
def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from nova_gate import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def _host_items(config: pytest.Config, catalog: Catalog) -> Catalog:
    """The checklist plus the items a host repository declares (``pytest_nova_gate_items``)."""
    return with_host_items(
        catalog, [raw for result in config.hook.pytest_nova_gate_items(config=config) for raw in result or []]
    )


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nova-gate", "nova-gate release gates")
    group.addoption(
        "--env",
        dest="nova_env",
        default=None,
        help="environment name (NAME.yaml in the environments directory) or path to a YAML file; "
        f"default $NOVA_GATE_ENV, ini {INI_ENV}, or sandbox",
    )
    group.addoption(
        "--env-dir",
        dest="nova_env_dir",
        default=None,
        help=f"directory where --env=NAME is looked up first ($NOVA_GATE_ENV_DIR, ini {INI_ENV_DIR}); "
        "then ./environments and <rootdir>/environments",
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
        help="waivers file (YAML): item or test id, justification, approver, expires "
        f"($NOVA_GATE_WAIVERS, ini {INI_WAIVERS})",
    )
    group.addoption(
        "--report-only", dest="nova_report_only", action="store_true", help="record the decision but exit 0"
    )
    group.addoption(
        "--reports-dir",
        dest="nova_reports_dir",
        default=None,
        help=f"where the audit record is written ($NOVA_GATE_REPORTS_DIR, ini {INI_REPORTS_DIR}; default reports/)",
    )
    group.addoption(
        "--decision-file",
        dest="nova_decision_file",
        default=None,
        help="also write this run's decision.json here (removed at the start, so it is never a stale one)",
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
    parser.addini(INI_ENV, "nova-gate: environment name or path (below --env and $NOVA_GATE_ENV)", default=None)
    parser.addini(INI_ENV_DIR, "nova-gate: directory of NAME.yaml environment files", default=None)
    parser.addini(INI_REPORTS_DIR, "nova-gate: where the audit record is written", default=None)
    parser.addini(INI_WAIVERS, "nova-gate: waivers file", default=None)


def _setting(config: pytest.Config, option: str, env_var: str, ini: str) -> tuple[str | None, Path]:
    """A setting from the command line, the environment or the ini file, with the base of a relative path."""
    here = Path(config.invocation_params.dir)
    value = getattr(config.option, option, None) or os.environ.get(env_var)
    if value:
        return str(value), here
    raw = config.getini(ini)
    if raw:
        base = Path(config.inipath).parent if config.inipath else Path(config.rootpath)
        return str(raw), base
    return None, here


def _resolve_env(config: pytest.Config) -> tuple[str | None, bool]:
    """The environment file to load (a path) and whether it was chosen explicitly."""
    value, base = _setting(config, "nova_env", "NOVA_GATE_ENV", INI_ENV)
    env_dir, dir_base = _setting(config, "nova_env_dir", "NOVA_GATE_ENV_DIR", INI_ENV_DIR)
    if value is None:
        name, explicit = "sandbox", False
    else:
        name, explicit = value, True
    if name.endswith((".yaml", ".yml")) or os.sep in name or "/" in name:
        return str(base / Path(name).expanduser()), explicit
    dirs = [(dir_base / Path(env_dir).expanduser())] if env_dir else []
    dirs += [Path(config.invocation_params.dir) / ENV_DIR_NAME, Path(config.rootpath) / ENV_DIR_NAME]
    for directory in dirs:
        candidate = directory / f"{name}.yaml"
        if candidate.is_file():
            return str(candidate), explicit or bool(env_dir)
    return str(dirs[0] / f"{name}.yaml"), explicit or bool(env_dir)


def _installed_package_dir() -> Path:
    return Path(__file__).resolve().parent


def _wants_suite(config: pytest.Config) -> bool:
    return any(str(a).split("::")[0].startswith(SUITE_PACKAGE) for a in config.args) and bool(config.option.pyargs)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    """Load and validate the environment and waivers once; a bad file exits 2 without traceback."""
    if config.option.help or config.option.version:
        return None
    root, here = Path(config.rootpath), Path(config.invocation_params.dir)
    if config.option.nova_decision_file:
        # this run owns the path: a decision left there by an earlier run must never pass for this one's,
        # even when this run ends before deciding (bad input, interrupted collection)
        with contextlib.suppress(FileNotFoundError):
            (here / config.option.nova_decision_file).unlink()
    if (here / "environments").is_dir() and root != here and root not in here.parents and here not in root.parents:
        sys.stderr.write(
            f"nova-gate: pytest took {root} for the project root: an option value that is an existing path "
            "was read as a test path before nova-gate's options were known; write --option=VALUE\n"
        )
        return EXIT_BAD_INPUT
    env_path, explicit = _resolve_env(config)
    if not explicit and not (root / ENV_DIR_NAME).is_dir() and not _wants_suite(config):
        return None  # installed but not in a nova-gate project: stay inert
    try:
        loaded = load_environment(
            env_path,
            release_version=config.option.nova_release_version,
            baseline_version=config.option.nova_baseline_version,
        )
        catalog = _host_items(config, load_catalog())
        _check_options(config, catalog)
        waivers_value, waivers_base = _setting(config, "nova_waivers", "NOVA_GATE_WAIVERS", INI_WAIVERS)
        policy = loaded.env.policy
        waivers = (
            load_waivers(
                waivers_base / waivers_value,
                known_items=catalog.ids,
                approvers=policy.approvers,
                max_days=policy.waiver_max_days,
            )
            if waivers_value
            else []
        )
    except (ConfigError, HostItemError, PolicyError) as exc:
        sys.stderr.write(f"nova-gate: {exc}\n")
        return EXIT_BAD_INPUT
    reports_value, reports_base = _setting(config, "nova_reports_dir", "NOVA_GATE_REPORTS_DIR", INI_REPORTS_DIR)
    if reports_value:
        reports_dir = reports_base / reports_value
    else:
        # pytest --pyargs from an empty directory may take the installed package for the rootdir
        pkg = _installed_package_dir()
        inside = root == pkg or pkg in root.parents or (root in pkg.parents and "site-packages" in root.parts)
        reports_dir = (here if inside else root) / "reports"
    st = RunState(
        loaded=loaded,
        catalog=catalog,
        waivers=waivers,
        reports_dir=reports_dir,
        started=dt.datetime.now(dt.UTC),
        secrets=secret_values(loaded.env),
    )
    if config.option.nova_decision_file:
        st.decision_file = here / config.option.nova_decision_file
    st.outputs["env_explicit"] = "1" if explicit else ""
    config.stash[STATE] = st
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
    config.addinivalue_line(
        "markers",
        "when_configured(*fields): run only where the environment configures one of backends.<fields>, "
        "unless no other test of its item would run",
    )
    for phase in PHASES:
        config.addinivalue_line("markers", f"{phase}: checklist phase {phase}")
    for section in SECTIONS.values():
        config.addinivalue_line("markers", f"{section}: preflight section {section}")
    for backend in BACKENDS:
        config.addinivalue_line("markers", f"{backend}: needs the {backend} backend")
    if STATE not in config.stash:
        return
    st = state(config)
    st.selected_phases = marked_phases(config.option.markexpr or "")
    if is_worker(config):
        config.pluginmanager.register(WorkerSide(config), "nova-gate-worker")
        return
    config.pluginmanager.register(Recorder(config), "nova-gate-recorder")
    if not (config.option.nova_no_reports or config.option.collectonly) and _looks_like_gate_run(config):
        _arm_reports(config, st)


def _looks_like_gate_run(config: pytest.Config) -> bool:
    """A gate run selects a phase or items, names the gates, or chose an environment or reports dir.

    The self-tests (``pytest tests``) do none of these and get no audit record.
    """
    st = state(config)
    if st.selected_phases or config.option.nova_items or st.outputs.get("env_explicit"):
        return True
    if config.option.nova_reports_dir or os.environ.get("NOVA_GATE_REPORTS_DIR") or config.getini(INI_REPORTS_DIR):
        return True
    if _wants_suite(config):
        return True
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
    # run-unique: two gates started in the same second (two regions, two CI jobs) never share a file
    base = f"{_run_label(config, st.catalog)}-{st.loaded.env.release.version}-{stamp}-{st.run_id}"
    st.outputs["base"] = base
    st.armed = True
    if config.pluginmanager.hasplugin("html") and hasattr(config.option, "htmlpath"):
        if not config.option.htmlpath:
            config.option.htmlpath = str(st.reports_dir / f"{base}.html")
            config.option.self_contained_html = True
        st.outputs["html"] = config.option.htmlpath or ""
    if config.pluginmanager.hasplugin("junitxml") and hasattr(config.option, "xmlpath"):
        if not config.option.xmlpath:
            config.option.xmlpath = str(st.reports_dir / f"{base}.xml")
        st.outputs["junit"] = config.option.xmlpath or ""


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
    items[:] = unconfigured_alternatives_removed(items, st.loaded.env.backends)
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
        # JUnit: junitxml writes the properties of the teardown report, which copies item.user_properties
        for item_id in ids:
            node.user_properties.append(("item", item_id))
        phases = sorted({st.catalog[i].phase for i in ids if i in st.catalog}, key=PHASES.index)
        if phases:
            node.user_properties.append(("phase", "+".join(phases)))
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


def unconfigured_alternatives_removed(items: list[pytest.Item], backends: Any) -> list[pytest.Item]:
    """Drop a test marked ``when_configured(*fields)`` whose fields the environment leaves empty,
    when its item keeps another test (Vault or Secrets Manager for PRE-CFG-2; PagerDuty beside the
    attestation for PRE-MON-5). An item is never left without a test: with none of its alternatives
    configured they all stay, and each FAILs "backends.<field> is not configured"."""

    def configured(node: pytest.Item) -> bool:
        mark = node.get_closest_marker("when_configured")
        return mark is None or any(getattr(backends, str(f), None) is not None for f in mark.args)

    kept = [n for n in items if configured(n)]
    covered = {i for n in kept for i in item_ids(n)}
    return [n for n in items if configured(n) or not set(item_ids(n)) <= covered]


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
            verdict = decision.apply_severity(verdict, {item.severity for item in self.items})
        self._node.stash[NODE_VERDICT] = verdict
        if verdict.label.blocks:
            pytest.fail(f"{verdict.label}: {self._st.redact(verdict.reason)}", pytrace=False)
        return verdict


@pytest.fixture
def gate(request: pytest.FixtureRequest) -> Gate:
    """The checklist gate of this test: ``gate.judge(rule(facts))``, ``gate.evidence(...)``."""
    st = state(request.config)
    if NODE_CALLS not in request.node.stash:  # taken when the test's setup began (pytest_runtest_setup)
        request.node.stash[NODE_CALLS] = _calls_now(st)
    return Gate(request.node, st)


def _calls_now(st: RunState) -> dict[int, int]:
    return {id(s): s.calls for s in st.sources}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Count a test's backend calls from the start of its setup: the calls its fixtures make (the
    session's first probe, a module's shared fetch) are its own, and a test whose setup fails is
    charged what that setup asked, never the session's running total."""
    if STATE in item.config.stash and item_ids(item):
        item.stash[NODE_CALLS] = _calls_now(state(item.config))


def register_source(config: pytest.Config, source: Source) -> None:
    """Fixtures call this so that backend calls are counted per test in the evidence."""
    state(config).sources.append(source)


# --------------------------------------------------------------------------------------------
# Reports: attach verdict and evidence, turn errors into one-line FAILs (runs where the test runs)
# --------------------------------------------------------------------------------------------
@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep: pytest.TestReport = yield
    config = item.config
    if STATE not in config.stash or not item_ids(item):
        return rep
    if rep.when == "call" or (rep.when == "setup" and not rep.passed):
        _judge_report(item, call, rep, state(config))
    _redact_report(rep, state(config))
    return rep


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


def _judge_report(item: pytest.Item, call: pytest.CallInfo[None], rep: pytest.TestReport, st: RunState) -> None:
    verdict = item.stash.get(NODE_VERDICT, None)
    ids = item_ids(item)
    if rep.skipped:
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        # a check that could not run has no data: INCONCLUSIVE, which blocks like a FAIL
        verdict = Verdict(Label.INCONCLUSIVE, f"skipped: {reason}")
        rep.outcome = "failed"
        rep.longrepr = f"{verdict.label}: {st.redact(verdict.reason)}"
    elif rep.failed and (verdict is None or not verdict.label.blocks):
        verdict = _verdict_from_error(call)
        rep.longrepr = f"{verdict.label}: {st.redact(verdict.reason)}"
    elif verdict is None:
        verdict = failed("the check ended without a verdict (a check must call gate.judge)")
        rep.outcome = "failed"
        rep.longrepr = verdict.reason
    before = item.stash.get(NODE_CALLS, None)
    if before is None:  # no snapshot (a test outside the plugin's setup): nothing can be charged to it
        before = _calls_now(st)
    calls: dict[str, int] = {}
    for source in st.sources:
        delta = source.calls - before.get(id(source), 0)
        if delta:
            calls[source.backend] = calls.get(source.backend, 0) + delta
    payload = {
        "items": ids,
        "verdict": verdict.as_dict(),
        "evidence": item.stash.get(NODE_EVIDENCE, []),
        "calls": calls,
    }
    shown = str(verdict.label)
    properties: list[tuple[str, str]] = []
    # the same waiver the decision will apply (nova_gate.decision), so that JUnit and HTML agree with it
    waiver = decision.waiver_for(st.waivers, ids, item.nodeid, verdict.label, st.loaded.env.policy)
    if waiver is not None:
        # WAIVED is never a pass: the test is reported as skipped with the waiver as its reason
        shown = str(Label.WAIVED)
        note = f"WAIVED ({verdict.label}) by {waiver.approver} until {waiver.expires.date()}: {verdict.reason}"
        rep.outcome = "skipped"
        rep.longrepr = (str(item.path), (item.location[1] or 0) + 1, st.redact(note))
        properties += [("waived_verdict", str(verdict.label)), ("waiver", st.redact(waiver.justification))]
    properties = [("verdict", shown), ("reason", st.redact(verdict.reason)), *properties]
    item.user_properties.extend(properties)
    rep.user_properties.extend(properties)
    payload = st.redact_data(report.jsonable(payload))
    rep.user_properties.append((USER_PROPERTY, st.redact(json.dumps(payload))))
    if rep.longrepr is not None and not isinstance(rep.longrepr, str | tuple):
        rep.longrepr = st.redact(str(rep.longrepr))
    if item.config.pluginmanager.hasplugin("html"):
        with contextlib.suppress(ImportError):
            rep.extras = [*getattr(rep, "extras", []), *report.html_extras(payload)]  # type: ignore[attr-defined]


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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``service`` is parametrized over the release's services (readable ids: the names)."""
    if "service" in metafunc.fixturenames and STATE in metafunc.config.stash:
        names = state(metafunc.config).loaded.env.service_names
        metafunc.parametrize("service", names, ids=names)


# --------------------------------------------------------------------------------------------
# xdist workers: tell the controller what was collected (node id -> items), never write records
# --------------------------------------------------------------------------------------------
class WorkerSide:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        collected = {n.nodeid: item_ids(n) for n in session.items if item_ids(n)}
        self.config.workeroutput["nova_gate_collected"] = json.dumps(collected)  # type: ignore[attr-defined]

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        for source in state(self.config).sources:
            with contextlib.suppress(Exception):
                source.close()


def _worker_id(rep: pytest.TestReport) -> str | None:
    gateway = getattr(getattr(rep, "node", None), "gateway", None)
    return str(gateway.id) if gateway is not None else None


# --------------------------------------------------------------------------------------------
# The controller (the only process, or xdist's controller): gather verdicts, decide, write
# --------------------------------------------------------------------------------------------
class Recorder:
    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    @property
    def st(self) -> RunState:
        return state(self.config)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # pytest-metadata fills its stash in pytest_configure, pytest-html reads it in its (trylast)
        # pytest_sessionstart: in between, whatever order the plugins were loaded in
        if self.st.armed:
            _add_metadata(self.config, self.st)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        st = self.st
        st.collected.update({n.nodeid: item_ids(n) for n in session.items if item_ids(n)})
        st.gate_mode = bool(st.collected)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.st.xdist_ids.update(ids)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        raw = getattr(node, "workeroutput", {}).get("nova_gate_collected")
        if raw:
            # the workers' collection order, not the order the reports arrived in: the decision lists
            # items and reasons exactly as a serial run does
            collected: dict[str, list[str]] = json.loads(raw)
            collected.update({k: v for k, v in self.st.collected.items() if k not in collected})
            self.st.collected = collected
            self.st.xdist_reported = True
            self.st.gate_mode = bool(self.st.collected)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Collect verdicts (from this process or, serialised on the report, from xdist workers)."""
        st = self.st
        props = dict(report.user_properties)
        if USER_PROPERTY not in props:
            if report.failed and report.nodeid not in st.records:
                lines = str(report.longreprtext or report.outcome).strip().splitlines() or [report.outcome]
                st.failed_outside.setdefault(report.nodeid, " ".join(lines[-1].split())[:300])
            return
        payload = json.loads(str(props[USER_PROPERTY]))
        verdict = payload["verdict"]
        st.add(
            TestRecord(
                nodeid=report.nodeid,
                items=payload["items"],
                label=Label(verdict["label"]),
                reason=verdict["reason"],
                verdict=verdict,
                evidence=payload["evidence"],
                calls=payload["calls"],
                duration=round(report.duration, 3),
                worker=_worker_id(report),
            )
        )

    @pytest.hookimpl(tryfirst=True)  # before pytest-html and junitxml write, which read the decision
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        st = self.st
        for source in st.sources:
            with contextlib.suppress(Exception):
                source.close()
        if self.config.option.collectonly or not (st.armed or st.gate_mode):
            return
        decided = st.decide()
        if st.armed:
            report.write_records(self.config, st)
        elif st.decision_file is not None:
            report.write_decision_file(st)
        if exitstatus in (0, 1) and st.gate_mode:
            session.exitstatus = decided.exit_code(
                failed_outside=bool(st.outside_failures), report_only=self.config.option.nova_report_only
            )

    @pytest.hookimpl(trylast=True)
    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """After pytest-html and JUnit have written their files: the signed manifest (nova_gate.signing)."""
        st = self.st
        if st.decision is None or not st.outputs.get("evidence"):
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

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        st = self.st
        if st.decision is not None:
            report.terminal_summary(terminalreporter, st)

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str]) -> None:
        if self.st.decision is not None:
            prefix.extend(report.html_summary(self.st))

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"nova-gate {self.st.outputs.get('base', '')}"
