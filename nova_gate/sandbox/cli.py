"""``nova-gate sandbox ...``: up, down, reset, status, faults, fault, history, scaled."""

from __future__ import annotations

import argparse
import json
import sys

from nova_gate.sandbox import manager
from nova_gate.sandbox.base import SandboxError


def build_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="sandbox_cmd", required=True)
    for name, text in (("up", "install and start"), ("down", "stop"), ("reset", "stop and wipe")):
        p = sub.add_parser(name, help=f"{text} the sandbox (or --only some components)")
        p.add_argument("--only", default="", help="comma-separated component names")
    p = sub.add_parser("status", help="per component: endpoint, pids, healthy")
    p.add_argument("--only", default="")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("faults", help="list injectable faults and the items that must catch them")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("fault", help="inject a fault (or --undo it)")
    p.add_argument("name")
    p.add_argument("--undo", action="store_true")
    p = sub.add_parser("history", help="turn a scenario file into Prometheus history")
    p.add_argument("scenario")
    p = sub.add_parser(
        "scaled",
        help="the scaled profile (110 services, 10,000 pods, ...) on the running servers, beside the default",
    )
    p.add_argument("action", choices=("up", "down", "status"))
    p.add_argument(
        "--only", default="", help="comma-separated parts: registry,postgres,search,kafka,prometheus,kubernetes"
    )


def main(args: argparse.Namespace) -> int:
    only = [n for n in getattr(args, "only", "").split(",") if n]
    try:
        if args.sandbox_cmd == "up":
            manager.up(only)
            bad = {n: s for n, s in manager.status(only).items() if not s["healthy"]}
            for name, st in bad.items():
                print(f"sandbox: {name} unhealthy: {st['detail']}", file=sys.stderr)
            return 1 if bad else 0
        if args.sandbox_cmd == "down":
            manager.down(only)
            return 0
        if args.sandbox_cmd == "reset":
            manager.reset(only)
            return 0
        if args.sandbox_cmd == "status":
            st = manager.status(only)
            if args.json:
                print(json.dumps(st, indent=2, sort_keys=True))
            else:
                for name, s in st.items():
                    mark = "healthy" if s["healthy"] else "DOWN"
                    print(f"{name:13} {mark:8} {s['endpoint']}  pids={s['pids']}  {s['detail']}")
            return 0 if all(s["healthy"] for s in st.values()) else 1
        if args.sandbox_cmd == "faults":
            listing = [f.as_dict() for f in manager.faults().values()]
            if args.json:
                print(json.dumps(listing, indent=2))
            else:
                for row in listing:
                    print(f"{row['name']:32} {row['expect']:5} {','.join(row['catches']):30} {row['breaks']}")
            return 0
        if args.sandbox_cmd == "fault":
            f = manager.fault(args.name, undo=args.undo)
            print(f"sandbox: fault {f.name} {'undone' if args.undo else 'injected'}")
            return 0
        if args.sandbox_cmd == "history":
            from nova_gate.sandbox import history

            history.load(args.scenario)
            return 0
        if args.sandbox_cmd == "scaled":
            from nova_gate.sandbox import scaled

            parts = only or None
            unknown = [p for p in parts or [] if p not in scaled.PARTS]
            if unknown:
                print(
                    f"--only: unknown part(s) {', '.join(unknown)} (known: {', '.join(scaled.PARTS)})", file=sys.stderr
                )
                return 2
            if args.action == "up":
                scaled.up(parts)
            elif args.action == "down":
                scaled.down(parts)
            else:
                print(json.dumps(scaled.status(), indent=2, sort_keys=True))
            return 0
    except SandboxError as exc:
        print(f"nova-gate sandbox: {exc}", file=sys.stderr)
        return 1
    return 2
