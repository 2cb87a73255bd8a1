"""The record writers: decision.json, the evidence file with its SHA-256, terminal and HTML summaries.

They render a run's ``nova_gate.decision.Decision`` and the tests' records; they never fetch or
judge anything (the JUnit properties are set by the plugin, the signed manifest by
``nova_gate.signing``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import fcntl
import getpass
import hashlib
import html
import json
import os
import platform
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nova_gate import __version__
from nova_gate.catalog import PHASE_TITLES
from nova_gate.verdict import Label

if TYPE_CHECKING:
    import pytest

    from nova_gate.session import RunState

DECISION_FILE = "decision.json"
EVIDENCE_FILE = "evidence.json"
LATEST_FILE = "latest.json"


def jsonable(value: Any) -> Any:
    """Turn facts into JSON-safe data (datetimes, paths, enums, dataclasses, bytes)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, float) and value != value:  # NaN is not JSON
        return None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def run_metadata(config: pytest.Config, st: RunState) -> dict[str, str]:
    env = st.loaded.env
    operator = config.option.nova_operator or os.environ.get("NOVA_GATE_OPERATOR") or os.environ.get("USER") or _user()
    return {
        "nova-gate": __version__,
        "Environment": f"{env.name} ({st.loaded.path})",
        "Release version": env.release.version,
        "Baseline version": env.release.baseline_version,
        "Release git sha": config.option.nova_release_sha or env.release.git_sha or "(not given)",
        "Operator": operator,
        "Started (UTC)": st.started.isoformat(timespec="seconds"),
        "Config sha256": st.loaded.config_hash,
        "Waivers": str(len(st.waivers)),
        "Unsafe thresholds": (
            f"{env.allow_unsafe_thresholds}: {'; '.join(st.loaded.unsafe)}" if st.loaded.unsafe else "none"
        ),
        "Host": platform.node(),
    }


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


# --------------------------------------------------------------------------------------------
# The decision record (decision.json): the Decision plus the run's context
# --------------------------------------------------------------------------------------------
def decision_document(st: RunState) -> dict[str, Any]:
    """Render ``st.decision`` as ``decision.json``; judges nothing (nova_gate.decision did)."""
    assert st.decision is not None
    env = st.loaded.env
    document = st.decision.as_dict()
    document.update(
        unsafe_thresholds=(
            {"reason": env.allow_unsafe_thresholds, "accepted": st.loaded.unsafe} if st.loaded.unsafe else None
        ),
        version=env.release.version,
        baseline_version=env.release.baseline_version,
        environment=env.name,
        run_id=st.run_id,
    )
    return document


def write_records(config: pytest.Config, st: RunState) -> None:
    """Write this run's evidence (+ .sha256) and decision under run-unique names, then the pointers.

    ``<base>.evidence.json``, ``<base>.evidence.json.sha256`` and ``<base>.decision.json`` belong to
    this run alone (``base`` carries the phase, version, start time and a random run id). The
    "latest" pointers — ``latest.json`` (names of the newest run's files), ``decision.json``,
    ``evidence.json`` and its ``.sha256`` — are each replaced atomically (write + ``os.replace``),
    all four under one lock so that two runs finishing together never leave a mixed set.
    """
    assert st.decision is not None
    document = st.document = decision_document(st)
    finished = dt.datetime.now(dt.UTC)
    # the record's own finish time (hash-covered in the evidence): a copied file keeps its age
    document["finished"] = finished.isoformat(timespec="seconds")
    base = st.outputs["base"]
    meta = run_metadata(config, st)
    meta["Finished (UTC)"] = finished.isoformat(timespec="seconds")
    meta["Run id"] = st.run_id
    evidence = {
        "meta": meta,
        "decision": document,
        "tests": [jsonable(dataclasses.asdict(r)) for r in st.records.values()],
        "backend_calls": _total_calls(st),
        "outputs": {"html": st.outputs.get("html"), "junit": st.outputs.get("junit")},
    }
    text = st.redact(json.dumps(evidence, indent=2, sort_keys=True)) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()
    document.update(
        evidence_sha256=digest,
        evidence_file=f"{base}.evidence.json",
        decision_file=f"{base}.decision.json",
    )
    decision_text = st.redact(json.dumps(document, indent=2, sort_keys=True)) + "\n"
    directory = st.reports_dir
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in (
        (f"{base}.evidence.json", text),
        (f"{base}.evidence.json.sha256", f"{digest}  {base}.evidence.json\n"),
        (f"{base}.decision.json", decision_text),
    ):
        _write_atomic(directory / name, content)
    latest = {
        "run_id": st.run_id,
        "base": base,
        "decision": document["decision"],
        "phase": document["phase"],
        "finished": finished.isoformat(timespec="seconds"),
        "decision_file": f"{base}.decision.json",
        "evidence_file": f"{base}.evidence.json",
        "html": Path(st.outputs["html"]).name if st.outputs.get("html") else None,
        "junit": Path(st.outputs["junit"]).name if st.outputs.get("junit") else None,
    }
    with _locked(directory / ".latest.lock"):
        _write_atomic(directory / EVIDENCE_FILE, text)
        _write_atomic(directory / f"{EVIDENCE_FILE}.sha256", f"{digest}  {EVIDENCE_FILE}\n")
        _write_atomic(directory / DECISION_FILE, decision_text)
        _write_atomic(directory / LATEST_FILE, json.dumps(latest, indent=2, sort_keys=True) + "\n")
    st.outputs["evidence"] = str(directory / f"{base}.evidence.json")
    st.outputs["decision"] = str(directory / f"{base}.decision.json")
    if st.decision_file is not None:
        _write_atomic(st.decision_file, decision_text)
        st.outputs["decision_file"] = str(st.decision_file)


def write_decision_file(st: RunState) -> None:
    """Only ``--decision-file`` (a run without an audit record, e.g. ``--no-reports``)."""
    assert st.decision is not None and st.decision_file is not None
    st.document = decision_document(st)
    _write_atomic(st.decision_file, st.redact(json.dumps(st.document, indent=2, sort_keys=True)) + "\n")
    st.outputs["decision_file"] = str(st.decision_file)


def _write_atomic(path: Path, content: str) -> None:
    """Write to a unique temporary file beside ``path``, then rename it over ``path`` (atomic on POSIX)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _total_calls(st: RunState) -> dict[str, int]:
    totals: dict[str, int] = {}
    for record in st.records.values():
        for backend, n in record.calls.items():
            totals[backend] = totals.get(backend, 0) + n
    return totals


def verify_evidence(path: Path) -> tuple[bool, str]:
    """Check an evidence file against its ``.sha256`` companion."""
    sidecar = path.with_name(path.name + ".sha256")
    try:
        data = path.read_bytes()
        expected = sidecar.read_text(encoding="utf-8").split()[0]
    except (OSError, IndexError) as exc:
        return False, f"cannot read {path} or {sidecar}: {exc}"
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        return False, f"{path}: SHA-256 mismatch (file {actual[:16]}…, recorded {expected[:16]}…): modified"
    try:
        json.loads(data)
    except ValueError as exc:
        return False, f"{path}: not valid JSON: {exc}"
    return True, f"{path}: SHA-256 {actual} OK"


# --------------------------------------------------------------------------------------------
# Presentation
# --------------------------------------------------------------------------------------------
def _tally(counts: dict[str, int]) -> tuple[int, int, int]:
    """A phase's items as passed, passed with a warning (WARN, WAIVED), blocking (FAIL, INCONCLUSIVE)."""
    return counts["PASS"], counts["WARN"] + counts["WAIVED"], counts["FAIL"] + counts["INCONCLUSIVE"]


def terminal_summary(tr: Any, st: RunState) -> None:
    decision = st.document if st.document is not None else decision_document(st)
    tr.write_sep("=", "nova-gate decision")
    for phase, info in decision["phases"].items():
        ok, warn, bad = _tally(info["counts"])
        tr.write_line(f"{PHASE_TITLES[phase]} [{phase}]: {info['decision']}  (✅ {ok}  ⚠️ {warn}  ❌ {bad})")
        for note in info.get("notes", []):
            tr.write_line(f"  ⚠️ {st.redact(note)}", yellow=True, bold=True)
        if info.get("waived"):
            tr.write_line(
                f"  ⚠️ WAIVED: {len(info['waived'])} item(s), {info['waived_share_pct']}% of the phase", yellow=True
            )
        for item_id in sorted((i for i in decision["items"] if st.catalog[i].phase == phase), key=st.catalog.ids.index):
            label = Label(decision["items"][item_id])
            why = decision["reasons"].get(item_id, [""])[0] if label is not Label.PASS else ""
            line = f"  {label.symbol} {label:<12} {item_id:<10} {st.catalog[item_id].text}"
            tr.write_line(st.redact(line[:110] + (f"\n      {why[:200]}" if why else "")))
    if decision.get("unsafe_thresholds"):
        unsafe = decision["unsafe_thresholds"]
        tr.write_line(f"⚠️ UNSAFE THRESHOLDS accepted ({unsafe['reason']}): {'; '.join(unsafe['accepted'])}", red=True)
    tr.write_line(
        f"DECISION: {decision['decision']}  (version {decision['version']}, environment {decision['environment']})",
        bold=True,
    )
    for key in ("html", "junit", "evidence", "decision", "decision_file"):
        if st.outputs.get(key):
            tr.write_line(f"  {key}: {st.outputs[key]}")


def html_summary(st: RunState) -> list[str]:
    decision = st.document if st.document is not None else decision_document(st)
    colour = {"PROCEED": "#1a7f37", "STOP": "#b35900", "ROLLBACK": "#cf222e", "PARTIAL": "#9a6700"}[
        decision["decision"]
    ]
    warnings = [note for info in decision["phases"].values() for note in info.get("notes", [])]
    if decision.get("unsafe_thresholds"):
        unsafe = decision["unsafe_thresholds"]
        warnings.append(f"UNSAFE THRESHOLDS accepted ({unsafe['reason']}): {'; '.join(unsafe['accepted'])}")
    for phase, info in decision["phases"].items():
        if info.get("waived"):
            warnings.append(
                f"{PHASE_TITLES[phase]}: WAIVED {len(info['waived'])} item(s) "
                f"({info['waived_share_pct']}% of the phase): {', '.join(info['waived'])}"
            )
    banner = "".join(
        f'<p class="nova-warning" style="background:#fff8c5;border:2px solid #9a6700;padding:6px;font-weight:bold">'
        f"⚠️ {html.escape(w)}</p>"
        for w in warnings
    )
    rows = []
    for phase, info in decision["phases"].items():
        ok, warn, bad = _tally(info["counts"])
        rows.append(
            f"<tr><td>{html.escape(PHASE_TITLES[phase])}</td><td><b>{info['decision']}</b></td>"
            f"<td>✅ {ok}</td><td>⚠️ {warn}</td><td>❌ {bad}</td></tr>"
        )
    items = []
    for item_id in sorted(decision["items"], key=st.catalog.ids.index):
        label = Label(decision["items"][item_id])
        why = "; ".join(decision["reasons"].get(item_id, []))[:400]
        items.append(
            f"<tr><td>{label.symbol} {label}</td><td>{item_id}</td>"
            f"<td>{html.escape(st.catalog[item_id].text)}</td><td>{html.escape(why)}</td></tr>"
        )
    return [
        f'<h2 id="nova-decision" style="color:{colour}">Decision: {decision["decision"]}</h2>',
        banner,
        f"<p>Release {html.escape(decision['version'])} (baseline "
        f"{html.escape(decision['baseline_version'])}) on {html.escape(decision['environment'])}</p>",
        "<table class='nova-phases'><tr><th>Phase</th><th>Decision</th><th>Pass</th><th>Warn</th>"
        "<th>Fail</th></tr>" + "".join(rows) + "</table>",
        "<table class='nova-items'><tr><th>Verdict</th><th>Item</th><th>Checklist</th><th>Reason</th></tr>"
        + "".join(items)
        + "</table>",
    ]


def html_extras(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The evidence of one test as a pytest-html extra (a table plus the raw JSON)."""
    from pytest_html import extras

    verdict = payload["verdict"]
    label = Label(verdict["label"])
    rows = [
        ("Items", ", ".join(payload["items"])),
        ("Verdict", f"{label.symbol} {label}"),
        ("Reason", verdict["reason"]),
        ("Observed", json.dumps(verdict["observed"], default=str)[:2000]),
        ("Expected", json.dumps(verdict["expected"], default=str)[:2000]),
        ("Backend calls", json.dumps(payload["calls"])),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    evidence = html.escape(json.dumps(payload["evidence"], indent=1, default=str)[:20000])
    details = html.escape(json.dumps(verdict["details"], indent=1, default=str)[:20000])
    charts = "".join(c for c in (e.get("chart_svg", "") for e in payload["evidence"]) if c)
    return [
        extras.html(
            f"<div class='nova-evidence'><table>{body}</table>{charts}"
            f"<details><summary>Evidence</summary><pre>{evidence}</pre></details>"
            f"<details><summary>Details</summary><pre>{details}</pre></details></div>"
        )
    ]
