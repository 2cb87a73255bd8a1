"""``nova-gate attach --ticket KEY``: the audit record onto the release ticket (Jira REST API v3).

What is attached: the latest run of ``--reports-dir`` (its HTML report, evidence.json and the
evidence's SHA-256), or, with ``--walk reports/walk-NAME-STAMP.json`` (what the rehearsal
writes), the walk's index page and every phase's HTML and evidence. The decision goes into a comment (Atlassian Document
Format). Calls, as Jira documents them:

- ``GET /rest/api/3/issue/{key}?fields=summary`` first: an unknown ticket is exit 2, nothing sent;
- ``POST /rest/api/3/issue/{key}/attachments``, multipart field ``file``, header
  ``X-Atlassian-Token: no-check`` (Jira's XSRF guard refuses uploads without it);
- ``POST /rest/api/3/issue/{key}/comment`` with ``{"body": <ADF doc>}``.

Credentials only from the environment: ``NOVA_GATE_JIRA_URL``, ``NOVA_GATE_JIRA_TOKEN`` and, for
Jira Cloud's basic auth, ``NOVA_GATE_JIRA_USER`` (the account e-mail; without it the token is sent
as a bearer personal access token). The token is never printed: every message is redacted.

Exit codes: 0 attached and commented; 2 bad input, nothing sent (no token or URL, malformed key,
unknown ticket, no record in the directory); 1 Jira refused or failed (credentials, permissions,
server error, network).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}-[1-9][0-9]{0,9}$")
ENV_URL, ENV_USER, ENV_TOKEN = "NOVA_GATE_JIRA_URL", "NOVA_GATE_JIRA_USER", "NOVA_GATE_JIRA_TOKEN"


class AttachError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Record:
    """What goes onto the ticket: files and the decisions they carry."""

    files: list[Path]
    decisions: list[dict[str, Any]] = field(default_factory=list)
    walk: str | None = None


def find_walk(index: Path) -> Record:
    """A walk's manifest (reports/walk-NAME-STAMP.json): its index page and every phase's record."""
    try:
        walk = json.loads(index.read_text())
        phases = walk["phases"]
        assert isinstance(phases, list)
    except (OSError, ValueError, KeyError, TypeError, AssertionError) as exc:
        raise AttachError(f"{index}: not a walk index ({type(exc).__name__}: {exc})", 2) from None
    here = index.parent
    page = walk.get("index_html") or ("index.html" if index.name == "index.json" else None)
    files = [here / str(page)] if page else []
    for phase in phases:
        files += [here / str(phase[k]) for k in ("html", "evidence") if phase.get(k)]
        if phase.get("evidence"):
            files.append(here / (str(phase["evidence"]) + ".sha256"))
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise AttachError(f"{index}: files of the walk are missing: {', '.join(missing[:5])}", 2)
    return Record(files, list(phases), walk=str(walk.get("name") or index.stem))


def find_record(reports_dir: Path) -> Record:
    """The latest run of the directory; a walk's manifest file (or a directory with index.json)."""
    if reports_dir.is_file():
        return find_walk(reports_dir)
    if not reports_dir.is_dir():
        raise AttachError(f"{reports_dir}: no such reports directory or walk index", 2)
    if (reports_dir / "index.json").is_file():
        return find_walk(reports_dir / "index.json")
    path = reports_dir / "decision.json"
    try:
        decision = json.loads(path.read_text())
        evidence = reports_dir / Path(str(decision["evidence_file"])).name
    except (OSError, ValueError, KeyError, TypeError):
        raise AttachError(f"{path}: no audit record here (run a gate first, or give --reports-dir)", 2) from None
    base = evidence.name.removesuffix(".evidence.json")
    files = [reports_dir / f"{base}.html", evidence, evidence.with_name(evidence.name + ".sha256")]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise AttachError(f"{path}: the record's files are missing: {', '.join(missing)}", 2)
    return Record(files, [decision])


def _text(text: str, bold: bool = False) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": text}
    if bold:
        node["marks"] = [{"type": "strong"}]
    return node


def comment_body(record: Record) -> dict[str, Any]:
    """The decision as an Atlassian Document Format comment."""
    content: list[dict[str, Any]] = []
    heading = f"nova-gate walk {record.walk}" if record.walk else "nova-gate audit record"
    content.append({"type": "heading", "attrs": {"level": 3}, "content": [_text(heading)]})
    for d in record.decisions:
        counts = d.get("counts") or {}
        count_text = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        line = [
            _text(f"{d.get('phase')}: "),
            _text(str(d.get("decision")), bold=True),
            _text(
                f" — release {d.get('version', '?')} over {d.get('baseline_version', '?')} on "
                f"{d.get('environment', '?')}; {count_text or 'no items'}"
            ),
        ]
        content.append({"type": "paragraph", "content": line})
        reasons = d.get("reasons") or {}
        failing = [(i, v) for i, v in (d.get("items") or {}).items() if v in ("FAIL", "INCONCLUSIVE", "WARN", "WAIVED")]
        if failing:
            items = []
            for item_id, verdict in failing[:30]:
                why = "; ".join(reasons.get(item_id, []))[:300]
                items.append(
                    {
                        "type": "listItem",
                        "content": [{"type": "paragraph", "content": [_text(f"{verdict} {item_id}: {why}")]}],
                    }
                )
            content.append({"type": "bulletList", "content": items})
        if d.get("evidence_sha256"):
            content.append({"type": "paragraph", "content": [_text(f"evidence SHA-256 {d['evidence_sha256']}")]})
    return {"type": "doc", "version": 1, "content": content}


def attach(
    ticket: str, reports_dir: Path, url: str | None = None, timeout_s: float = 30, walk: Path | None = None
) -> int:
    token = os.environ.get(ENV_TOKEN, "")
    ticket = ticket.strip().upper()  # Jira keys are case-insensitive; the API answers the upper-case key
    try:
        if not KEY.match(ticket):
            raise AttachError(f"--ticket {ticket!r}: not a Jira issue key (PROJECT-123)", 2)
        base = (url or os.environ.get(ENV_URL, "")).rstrip("/")
        if not re.match(r"^https?://[^\s/]+", base):
            raise AttachError(f"{ENV_URL}: not set or not an http(s) URL (or give --jira-url)", 2)
        if not token.strip():
            raise AttachError(f"{ENV_TOKEN}: not set (the Jira API token is read only from the environment)", 2)
        record = find_walk(walk) if walk is not None else find_record(reports_dir)
        _upload(base, ticket, token, record, timeout_s)
    except AttachError as exc:
        print(f"nova-gate attach: {_redact(str(exc), token)}", file=sys.stderr)
        return exc.code
    return 0


def _redact(text: str, token: str) -> str:
    return text.replace(token, "***") if token else text


def _upload(base: str, ticket: str, token: str, record: Record, timeout_s: float) -> None:
    import base64

    import httpx

    user = os.environ.get(ENV_USER, "")
    basic = base64.b64encode(f"{user}:{token}".encode()).decode()
    auth = f"Basic {basic}" if user else f"Bearer {token}"
    headers = {"Authorization": auth, "Accept": "application/json"}
    issue_url = f"{base}/rest/api/3/issue/{ticket}"
    try:
        with httpx.Client(timeout=timeout_s, headers=headers, follow_redirects=False) as client:
            r = client.get(issue_url, params={"fields": "summary"})
            _check(r, ticket, "read the ticket")
            uploaded: list[str] = []
            try:
                for path in record.files:
                    with open(path, "rb") as fh:
                        r = client.post(
                            f"{issue_url}/attachments",
                            headers={"X-Atlassian-Token": "no-check"},
                            files={"file": (path.name, fh, _mime(path))},
                        )
                    _check(r, ticket, f"attach {path.name}")
                    names = [a.get("filename") for a in r.json()] if isinstance(r.json(), list) else []
                    if path.name not in names:
                        raise AttachError(f"Jira did not confirm the attachment {path.name}", 1)
                    uploaded.append(path.name)
                r = client.post(f"{issue_url}/comment", json={"body": comment_body(record)})
                _check(r, ticket, "comment")
                comment_id = r.json().get("id")
            except AttachError as exc:
                if uploaded:  # say what is on the ticket already, so nobody attaches it twice blindly
                    raise AttachError(f"{exc} (already attached: {', '.join(uploaded)})", exc.code) from None
                raise
    except httpx.HTTPError as exc:
        raise AttachError(f"Jira at {base} unreachable: {type(exc).__name__}: {exc}", 1) from None
    except ValueError as exc:
        raise AttachError(f"Jira answered something that is not JSON: {exc}", 1) from None
    decisions = ", ".join(f"{d.get('phase')} {d.get('decision')}" for d in record.decisions)
    print(f"attached {len(uploaded)} files to {ticket} ({', '.join(uploaded)}); comment {comment_id}: {decisions}")


def _check(r: Any, ticket: str, what: str) -> None:
    if r.status_code < 300:
        return
    try:
        doc = r.json()
        why = "; ".join(doc.get("errorMessages") or []) or json.dumps(doc.get("errors") or {})
    except ValueError:
        why = " ".join(r.text.split())[:200]
    if r.status_code == 404 and what == "read the ticket":
        raise AttachError(f"unknown ticket {ticket} (HTTP 404: {why})", 2)
    if r.status_code in (401, 403):
        raise AttachError(f"Jira refused to {what} on {ticket} (HTTP {r.status_code}: {why}); check the token", 1)
    raise AttachError(f"Jira could not {what} on {ticket}: HTTP {r.status_code}: {why}", 1)


def _mime(path: Path) -> str:
    if path.suffix == ".html":
        return "text/html"
    if path.suffix == ".json":
        return "application/json"
    return "text/plain"
