"""``nova-gate``: run a phase, list items, verify an audit record, attest, drive the sandbox."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nova_gate import __version__
from nova_gate.catalog import PHASES, load_catalog
from nova_gate.config import ConfigError, load_environment, project_root
from nova_gate.policy import AttestError, PolicyError, attest
from nova_gate.report import verify_evidence


def in_checkout() -> bool:
    """Whether nova_gate is imported from a source checkout (top-level checks/ next to it)."""
    root = project_root()
    return (root / "checks").is_dir() and (root / "conftest.py").is_file() and (root / "pyproject.toml").is_file()


def pytest_argv(args: list[str]) -> tuple[list[str], Path]:
    """The pytest command line for the gates and where to run it.

    From a checkout: its top-level checks/, gates/ and smoke/ (rootdir and conftest.py are the
    checkout's). Installed: the packaged suite (``--pyargs nova_gate.suite``). Either way pytest runs
    in the current directory, so that relative ``--env=``, ``--reports-dir=``, ``--decision-file=``
    paths and the caller's own test paths mean what they say there.
    """
    if in_checkout():
        gates = [str(project_root() / folder) for folder in ("checks", "gates", "smoke")]
        return [sys.executable, "-m", "pytest", *gates, *args], Path.cwd()
    from nova_gate.plugin import SUITE_PACKAGE

    return [sys.executable, "-m", "pytest", "--pyargs", SUITE_PACKAGE, *args], Path.cwd()


def _pytest(args: list[str]) -> int:
    argv, cwd = pytest_argv(args)
    return subprocess.call(argv, cwd=cwd)


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    if args.phase not in PHASES:
        print(f"nova-gate run: unknown phase {args.phase!r}; phases: {', '.join(PHASES)}", file=sys.stderr)
        return 2
    return _pytest(["-m", args.phase, *extra])


def collect_node_ids(env: str | None = None) -> dict[str, list[str]]:
    """Ask pytest which test nodes carry which item (one collection, no backend touched)."""
    options = ["--collect-only", "-q", "--no-reports", "-p", "nova_gate.collect_items"]
    argv, cwd = pytest_argv([*options, *([f"--env={env}"] if env else [])])
    out = subprocess.run(
        argv,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    marker = "NOVA-ITEMS "
    for line in out.stdout.splitlines():
        if line.startswith(marker):
            data: dict[str, list[str]] = json.loads(line[len(marker) :])
            return data
    raise RuntimeError(f"collection failed: {(out.stderr or out.stdout).strip()[-500:]}")


def cmd_items(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    try:
        nodes = collect_node_ids(getattr(args, "env", None))
    except RuntimeError as exc:
        print(f"nova-gate items: {exc}", file=sys.stderr)
        return 1
    rows: list[dict[str, Any]] = []
    for item in catalog:
        tests = nodes.get(item.id, [])
        rows.append(
            {
                "id": item.id,
                "phase": item.phase,
                "section": item.section,
                "severity": item.severity,
                "verification": item.verification,
                "backends": list(item.backends),
                "automated": item.automated,
                "tests": tests,
                "text": item.text,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            auto = "auto" if r["automated"] else "TODO"
            print(
                f"{r['id']:<10} {r['phase']:<15} {r['severity']:<6} {auto:<5} {len(r['tests']):>3} tests  {r['text']}"
            )
        done = sum(r["automated"] for r in rows)
        print(f"{len(rows)} items, {done} automated, {len(rows) - done} not automated yet")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from nova_gate import signing

    path = Path(args.file)
    if path.is_dir():
        ok, lines = signing.verify_directory(path)
        for line in lines:
            print(line, file=sys.stdout if ok else sys.stderr)
        print(
            f"{path}: {'every artifact verifies' if ok else 'VERIFICATION FAILED'}",
            file=sys.stdout if ok else sys.stderr,
        )
        return 0 if ok else 1
    ok, message = verify_evidence(path)
    lines = [message]
    if ok:
        consistent, why = signing.decision_matches_evidence(path)
        manifest = signing.manifest_for(path)
        if not consistent:
            ok, lines = False, [*lines, f"{path}: {why}"]
        if manifest is not None:
            good, out = signing.verify_manifest(manifest)
            ok, lines = ok and good, [*lines, *out]
        elif signing.signing_configured():
            ok, lines = False, [*lines, f"{path}: not covered by a signed manifest"]
    for line in lines:
        print(line, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def cmd_attest(args: argparse.Namespace) -> int:
    try:
        path = attest(args.item, args.by, args.note, env=args.env, file=args.file, version=args.version)
    except AttestError as exc:
        print(f"nova-gate attest: {exc}", file=sys.stderr)
        return 2
    except (ConfigError, PolicyError) as exc:
        print(f"nova-gate: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"nova-gate attest: {exc}", file=sys.stderr)
        return 2
    print(f"attested {args.item} by {args.by} in {path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from nova_gate import serve

    try:
        hooks = serve.parse_hook_overrides(args.hook)
        if args.max_concurrent < 1 or args.timeout <= 0 or not 0 < args.port < 65536:
            raise serve.BadRequest("--max-concurrent, --timeout and --port must be positive (port < 65536)")
        if args.env:
            load_environment(args.env)  # a bad environment is exit 2 now, not a 500 on the first webhook
    except (serve.BadRequest, ConfigError) as exc:
        print(f"nova-gate serve: {exc}", file=sys.stderr)
        return 2
    reports = Path(args.reports_dir) if args.reports_dir else project_root() / "reports" / "flagger"
    return serve.serve(args.host, args.port, args.env, reports, args.max_concurrent, args.timeout, hooks)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nova-gate", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nova-gate {__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="run one phase's gate (extra arguments go to pytest)")
    p.add_argument("phase", help=", ".join(PHASES))
    p = sub.add_parser("items", help="list the checklist items with their automation status")
    p.add_argument("--json", action="store_true")
    p.add_argument("--env", default=None, help="environment (installed outside a checkout there is no default)")
    p = sub.add_parser("verify", help="check a reports directory (every artifact, signatures) or one evidence file")
    p.add_argument("file")
    p = sub.add_parser("attest", help="record a person's attestation for a human checklist item")
    p.add_argument("item")
    p.add_argument("--by", required=True)
    p.add_argument("--note", required=True)
    p.add_argument("--version", default=None, help="release version (default: the environment's)")
    p.add_argument("--env", default=None)
    p.add_argument("--file", default=None, help="attestations file (default: files.attestations)")
    p = sub.add_parser("sandbox", help="the local sandbox: up, down, reset, status, faults, history")
    from nova_gate.sandbox.cli import build_parser as sandbox_parser

    sandbox_parser(p)
    p = sub.add_parser("watch", help="re-evaluate a metric phase every scrape until its window is complete")
    p.add_argument("phase", help="canary_gate, scale_gate or stability_gate")
    p.add_argument("--interval", type=float, default=15, help="seconds between evaluations (scrape interval)")
    p.add_argument("--minutes", type=float, default=None, help="how long to watch (default: the phase's window)")
    p.add_argument("--since-minutes", type=float, default=0, help="the watched window began this long ago")
    p.add_argument("--env", default=None)
    p = sub.add_parser("rehearse", help="walk every phase of a release against the sandbox")

    p.add_argument("--keep-going", action="store_true", help="run later phases after a failing one")
    p.add_argument(
        "--walk",
        action="append",
        choices=["good-release", "bad-canary"],
        default=None,
        help="which walk(s) to rehearse (default: the good release, then the bad canary)",
    )
    p = sub.add_parser("attach", help="attach the audit record to a Jira ticket and comment the decision")
    p.add_argument("--ticket", required=True, help="Jira issue key, e.g. REL-42")
    p.add_argument("--reports-dir", default=None, help="a run's or a walk's reports directory (default reports/)")
    p.add_argument("--jira-url", default=None, help="Jira base URL (default $NOVA_GATE_JIRA_URL)")
    p.add_argument("--walk", default=None, help="a walk's index (reports/walk-NAME-STAMP.json): attach it all")
    p = sub.add_parser("serve", help="Flagger webhook service: each webhook type runs a phase's gate")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1; 0.0.0.0 in a pod)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--env", default=None, help="environment of the gate runs (default: as pytest)")
    p.add_argument("--reports-dir", default=None, help="where each run's record goes (default reports/flagger)")
    p.add_argument("--max-concurrent", type=int, default=2, help="gate runs at once; more get 429 (default 2)")
    p.add_argument("--timeout", type=float, default=900, help="seconds per gate run; then 504 (default 900)")
    p.add_argument("--hook", action="append", default=[], metavar="TYPE=PHASE", help="map a webhook type to a phase")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    extra: list[str] = []
    if argv[:1] == ["run"] and len(argv) > 2:
        argv, extra = argv[:2], argv[2:]
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if args.cmd == "run":
        return cmd_run(args, extra)
    if args.cmd == "items":
        return cmd_items(args)
    if args.cmd == "verify":
        return cmd_verify(args)
    if args.cmd == "attest":
        return cmd_attest(args)
    if args.cmd == "sandbox":
        from nova_gate.sandbox.cli import main as sandbox_main

        return sandbox_main(args)
    if args.cmd == "watch":
        from nova_gate.watch import watch

        try:
            return watch(
                args.phase,
                interval_s=args.interval,
                max_minutes=args.minutes,
                env=args.env,
                since_minutes=args.since_minutes,
            )
        except ConfigError as exc:
            print(f"nova-gate: {exc}", file=sys.stderr)
            return 2
    if args.cmd == "serve":
        return cmd_serve(args)
    if args.cmd == "attach":
        from nova_gate.attach import attach

        reports = Path(args.reports_dir) if args.reports_dir else project_root() / "reports"
        return attach(args.ticket, reports, url=args.jira_url, walk=Path(args.walk) if args.walk else None)
    if args.cmd == "rehearse":
        from nova_gate.rehearsal import rehearse

        return rehearse(keep_going=args.keep_going, walks=tuple(args.walk or ("good-release", "bad-canary")))
    return 2


if __name__ == "__main__":
    sys.exit(main())
