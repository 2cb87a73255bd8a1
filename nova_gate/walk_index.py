"""The index page of one walk (a release rehearsed phase by phase): renders only.

One row per phase: its number in the checklist, the sandbox steps before it, the decision against
the expected one, the counts, the duration and links to the phase's HTML report, JUnit XML and
evidence; below, every item that did not pass with its reason. Self-contained HTML, no script.
"""

from __future__ import annotations

import html
from typing import Any

from nova_gate.catalog import PHASE_TITLES

COLOURS = {"PROCEED": "#1a7f37", "STOP": "#b35900", "ROLLBACK": "#cf222e", "ERROR": "#6e7781"}
NOT_PASSING = ("FAIL", "INCONCLUSIVE", "WARN", "WAIVED")


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _link(href: Any, text: str) -> str:
    return f'<a href="{_e(href)}">{_e(text)}</a>' if href else '<span class="none">—</span>'


def render_index(walk: dict[str, Any]) -> str:
    phases: list[dict[str, Any]] = walk.get("phases", [])
    ok = bool(walk.get("as_expected"))
    verdict = "ended as expected" if ok else "did NOT end as expected"
    rows = []
    for n, p in enumerate(phases, 1):
        c = p.get("counts") or {}
        decision = str(p.get("decision", "ERROR"))
        expected = str(p.get("expected", "PROCEED"))
        mark = '<span class="met">met</span>' if decision == expected else '<span class="err">NOT met</span>'
        steps = "<br>".join(_e(s) for s in p.get("steps", [])) or '<span class="none">—</span>'
        if p.get("step_errors"):
            steps += "".join(f'<div class="err">step failed: {_e(e)}</div>' for e in p["step_errors"])
        rows.append(
            f'<tr id="phase-{_e(p.get("phase"))}"><td class="num">{n}</td>'
            f"<td><b>{_e(PHASE_TITLES.get(p.get('phase', ''), p.get('phase')))}</b>"
            f'<div class="sub">{_e(p.get("phase"))}</div></td>'
            f"<td>{steps}</td>"
            f'<td><span class="decision" style="background:{COLOURS.get(decision, "#6e7781")}">'
            f"{_e(decision)}</span></td>"
            f"<td>{_e(expected)} {mark}</td>"
            f'<td class="num">{c.get("PASS", 0)}</td><td class="num">{c.get("WARN", 0) + c.get("WAIVED", 0)}</td>'
            f'<td class="num">{c.get("FAIL", 0)}</td><td class="num">{c.get("INCONCLUSIVE", 0)}</td>'
            f'<td class="num">{p.get("duration_s", 0):.0f} s</td>'
            f"<td>{_link(p.get('html'), 'HTML')} · {_link(p.get('junit'), 'JUnit')} · "
            f"{_link(p.get('evidence'), 'evidence')}</td></tr>"
        )
    failing = []
    for p in phases:
        reasons = p.get("reasons") or {}
        bad = [(i, v) for i, v in (p.get("items") or {}).items() if v in NOT_PASSING]
        if not bad and p.get("decision") not in ("ERROR",):
            continue
        lis = "".join(
            f"<li><b>{_e(v)}</b> {_e(i)} — "
            + ("<br>".join(_e(r) for r in reasons.get(i, [])) or "no reason recorded")
            + "</li>"
            for i, v in bad
        )
        if p.get("decision") == "ERROR":
            lis += f"<li><b>ERROR</b> {_e(p.get('detail') or 'the gate did not decide')}</li>"
        failing.append(
            f'<h3><a href="#phase-{_e(p.get("phase"))}">{_e(PHASE_TITLES.get(p.get("phase", ""), p.get("phase")))}</a>'
            f" — {_e(p.get('decision'))}</h3><ul>{lis}</ul>"
        )
    summary = "".join(
        f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>"
        for k, v in (
            ("Release", f"{walk.get('version')} over {walk.get('baseline_version')} on {walk.get('environment')}"),
            ("Scenario", walk.get("scenario")),
            ("Expected", walk.get("expected")),
            ("Started (UTC)", walk.get("started")),
            ("Finished (UTC)", walk.get("finished")),
            ("Operator", walk.get("operator")),
        )
        if v
    )
    colour = "#1a7f37" if ok else "#cf222e"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>nova-gate walk {_e(walk.get("name"))}: {_e(verdict)}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1f2328; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }} h2 {{ font-size: 17px; margin-top: 28px; }} h3 {{ font-size: 15px; }}
.verdict {{ font-size: 17px; font-weight: 600; color: {colour}; }}
dl {{ display: grid; grid-template-columns: max-content auto; gap: 2px 16px; margin: 12px 0; }}
dt {{ color: #57606a; }} dd {{ margin: 0; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #d0d7de; padding: 6px 8px; text-align: left; vertical-align: top; }}
th {{ background: #f6f8fa; }} td.num {{ text-align: right; }}
.decision {{ color: #fff; border-radius: 4px; padding: 1px 8px; font-weight: 600; }}
.sub {{ color: #57606a; font-size: 12px; }} .none {{ color: #8c959f; }}
.err {{ color: #cf222e; font-weight: 600; }} .met {{ color: #1a7f37; }}
li {{ margin: 3px 0; }}
</style></head><body>
<h1>nova-gate walk: {_e(walk.get("title") or walk.get("name"))}</h1>
<div class="verdict">{len(phases)} phases, {_e(verdict)}</div>
<dl>{summary}</dl>
<h2>Phases</h2>
<table><tr><th>#</th><th>Phase</th><th>Steps before the gate</th><th>Decision</th><th>Expected</th>
<th>Pass</th><th>Warn</th><th>Fail</th><th>Inconcl.</th><th>Time</th><th>Record</th></tr>
{"".join(rows)}</table>
<h2>Items that did not pass</h2>
{"".join(failing) or "<p>None: every item of every phase passed.</p>"}
</body></html>
"""
