"""Local stand-ins for SaaS APIs the checklist reads: Grafana (dashboards), Vault (KV v2).

(S3 is moto's server with IAM enforcement, ``nova_gate/sandbox/s3.py``.)

Only their read endpoints that nova-gate uses, with token checks, plus an admin endpoint on each
port for the sandbox's faults. State lives in a JSON file so that faults survive a restart.

    python -m nova_gate.sandbox.saas_server STATE.json
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from nova_gate.sandbox import ports
from nova_gate.sandbox.json_http import JsonHandler, JsonState

GRAFANA_TOKEN = "sandbox-grafana-token"
VAULT_TOKEN = "sandbox-vault-token"
DASHBOARDS = {
    "nova-overview": "Nova overview",
    "nova-canary": "Nova canary vs baseline",
    "nova-database": "Nova PostgreSQL",
}
SECRETS = [
    "nova/prod/database-url",
    "nova/prod/redis-url",
    "nova/prod/jwt-signing-key",
    "nova/prod/s3-credentials",
    "nova/prod/kafka-sasl",
]


def initial_state(now: dt.datetime) -> dict[str, Any]:
    return {
        "dashboards": dict(DASHBOARDS),
        "secrets": {path: (now - dt.timedelta(days=3)).isoformat() for path in SECRETS},
    }


class State(JsonState):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        if not path.exists() or set(json.loads(path.read_text())) != set(initial_state(dt.datetime.now(dt.UTC))):
            self.save(initial_state(dt.datetime.now(dt.UTC)))


def handler(kind: str, state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        server_version = "nova-sandbox-saas"

        def do_HEAD(self) -> None:
            return self.reply(405, {})

        def do_GET(self) -> None:
            data = state.load()
            if kind == "grafana":
                if self.path == "/api/health":
                    return self.reply(200, {"database": "ok", "version": "sandbox"})
                if self.headers.get("Authorization") != f"Bearer {GRAFANA_TOKEN}":
                    return self.reply(401, {"message": "Unauthorized"})
                prefix = "/api/dashboards/uid/"
                if self.path.startswith(prefix):
                    uid = self.path[len(prefix) :]
                    title = data["dashboards"].get(uid)
                    if title is None:
                        return self.reply(404, {"message": "Dashboard not found"})
                    return self.reply(
                        200,
                        {
                            "dashboard": {"uid": uid, "title": title, "panels": [{"id": 1}]},
                            "meta": {"slug": uid, "url": f"/d/{uid}/{uid}"},
                        },
                    )
                return self.reply(404, {"message": "Not found"})
            if self.path == "/v1/sys/health":
                return self.reply(200, {"initialized": True, "sealed": False})
            if self.headers.get("X-Vault-Token") != VAULT_TOKEN:
                return self.reply(403, {"errors": ["permission denied"]})
            prefix = "/v1/secret/metadata/"
            if self.path.startswith(prefix):
                path = self.path[len(prefix) :]
                updated = data["secrets"].get(path)
                if updated is None:
                    return self.reply(404, {"errors": []})
                return self.reply(
                    200,
                    {
                        "data": {
                            "created_time": updated,
                            "updated_time": updated,
                            "current_version": 3,
                            "versions": {"3": {"created_time": updated, "deletion_time": "", "destroyed": False}},
                        }
                    },
                )
            return self.reply(404, {"errors": []})

        def do_POST(self) -> None:
            """Admin (sandbox faults): {"delete": key} / {"age_days": {key: n}} / {"reset": true}."""
            if self.path != "/admin":
                return self.reply(404, {})
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            now = dt.datetime.now(dt.UTC)
            data = initial_state(now) if body.get("reset") else state.load()
            table = {"grafana": "dashboards", "vault": "secrets"}[kind]
            if "delete" in body:
                data[table].pop(body["delete"], None)
            for key, days in body.get("age_days", {}).items():
                data["secrets"][key] = (now - dt.timedelta(days=float(days))).isoformat()
            state.save(data)
            return self.reply(200, data[table])

    return Handler


def main(argv: list[str]) -> int:
    state = State(Path(argv[0]))
    servers = [
        ThreadingHTTPServer((ports.HOST, ports.GRAFANA), handler("grafana", state)),
        ThreadingHTTPServer((ports.HOST, ports.VAULT), handler("vault", state)),
    ]

    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
