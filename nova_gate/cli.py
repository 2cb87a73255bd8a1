"""``nova-gate``: run a phase, list items, verify an audit record, attest, drive the sandbox."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from nova_gate import __version__
from nova_gate.catalog import PHASES, load_catalog
from nova_gate.config import ConfigError, check_identifier, load_environment, project_root
from nova_gate.policy import Attestation, PolicyError, append_attestation, check_name, check_note
from nova_gate.report import verify_evidence


def _pytest(args: list[str]) -> int:
    return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=project_root())


def cmd_run(args: argparse.Namespace, extra: list[str]) -> int:
    if args.phase not in PHASES:
        print(f"nova-gate run: unknown phase {args.phase!r}; phases: {', '.join(PHASES)}", file=sys.stderr)
        return 2
    return _pytest(["-m", args.phase, *extra])


def collect_node_ids() -> dict[str, list[str]]:
    """Ask pytest which test nodes carry which item (one collection, no backend touched)."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "--no-reports",
            "-p",
            "nova_gate.collect_items",
        ],
        cwd=project_root(),
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
        nodes = collect_node_ids()
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
    catalog = load_catalog()
    if args.item not in catalog:
        print(f"nova-gate attest: unknown checklist item {args.item!r}", file=sys.stderr)
        return 2
    try:
        check_name(args.by, "--by")
        note = check_note(args.note, "--note")
        if args.version is not None:
            check_identifier(args.version, "version")
        loaded = load_environment(args.env)
        path = args.file or loaded.env.files.attestations
        if path is None:
            print(f"nova-gate attest: {loaded.path}:files.attestations: not set", file=sys.stderr)
            return 2
        append_attestation(
            Path(path),
            Attestation(
                item=args.item,
                by=args.by,
                note=note,
                at=dt.datetime.now(dt.UTC),
                version=args.version or loaded.env.release.version,
            ),
        )
    except (ConfigError, PolicyError) as exc:
        print(f"nova-gate: {exc}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"nova-gate attest: {exc}", file=sys.stderr)
        return 2
    print(f"attested {args.item} by {args.by} in {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nova-gate", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nova-gate {__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("run", help="run one phase's gate (extra arguments go to pytest)")
    p.add_argument("phase", help=", ".join(PHASES))
    p = sub.add_parser("items", help="list the checklist items with their automation status")
    p.add_argument("--json", action="store_true")
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
    p.add_argument("--env", default=None)
    p = sub.add_parser("rehearse", help="walk every phase of a release against the sandbox")

    p.add_argument("--keep-going", action="store_true", help="run later phases after a failing one")
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
            return watch(args.phase, interval_s=args.interval, max_minutes=args.minutes, env=args.env)
        except ConfigError as exc:
            print(f"nova-gate: {exc}", file=sys.stderr)
            return 2
    if args.cmd == "rehearse":
        from nova_gate.rehearsal import rehearse

        return rehearse(keep_going=args.keep_going)
    return 2


if __name__ == "__main__":
    sys.exit(main())
