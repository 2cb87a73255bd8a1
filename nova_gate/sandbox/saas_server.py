"""Local stand-ins for SaaS APIs the checklist reads: Grafana (dashboards), Vault (KV v2), S3.

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


S3_ACCESS_KEY = "AKIANOVASANDBOX00001"
S3_SECRET_KEY = "sandbox-s3-secret"
S3_PRINCIPAL = "arn:aws:iam::123456789012:role/nova-services"
BUCKETS = ["nova-media", "nova-cdn-origin"]
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


def bucket_policy(bucket: str, actions: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NovaServices",
                "Effect": "Allow",
                "Principal": {"AWS": S3_PRINCIPAL},
                "Action": actions,
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }


def initial_state(now: dt.datetime) -> dict[str, Any]:
    return {
        "dashboards": dict(DASHBOARDS),
        "secrets": {path: (now - dt.timedelta(days=3)).isoformat() for path in SECRETS},
        "buckets": {
            b: {"pab": dict(BLOCK_ALL), "policy": bucket_policy(b, ["s3:GetObject", "s3:PutObject"])} for b in BUCKETS
        },
    }


def s3_signature_ok(method: str, url: str, headers: Any) -> bool:
    """Recompute the request's SigV4 signature with the sandbox's key pair."""
    from nova_gate.backends.s3.source import sigv4_headers

    auth, amz_date = headers.get("Authorization", ""), headers.get("x-amz-date", "")
    if S3_ACCESS_KEY not in auth or not amz_date:
        return False
    try:
        when = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return False
    expected = sigv4_headers(
        method,
        url,
        "us-east-1",
        S3_ACCESS_KEY,
        S3_SECRET_KEY,
        when,
        payload_sha256=headers.get("x-amz-content-sha256", ""),
    )
    return bool(expected["Authorization"] == auth)


class State:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        if not path.exists() or set(json.loads(path.read_text())) != set(initial_state(dt.datetime.now(dt.UTC))):
            self.save(initial_state(dt.datetime.now(dt.UTC)))

    def load(self) -> dict[str, Any]:
        with self.lock:
            data: dict[str, Any] = json.loads(self.path.read_text())
            return data

    def save(self, data: dict[str, Any]) -> None:
        with self.lock:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, indent=2))
            tmp.replace(self.path)


def handler(kind: str, state: State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "nova-sandbox-saas"

        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, code: int, body: Any) -> None:
            raw = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def s3(self, method: str) -> None:
            data = state.load()
            url = f"http://{self.headers.get('Host')}{self.path}"
            if not s3_signature_ok(method, url, self.headers):
                return self.xml(403, "<Error><Code>SignatureDoesNotMatch</Code></Error>")
            bucket, _, query = self.path.lstrip("/").partition("?")
            info = data["buckets"].get(bucket)
            if info is None:
                return self.xml(404, "<Error><Code>NoSuchBucket</Code></Error>")
            if method == "HEAD" or not query:
                return self.xml(200, "")
            if query == "publicAccessBlock":
                if not info["pab"]:
                    return self.xml(404, "<Error><Code>NoSuchPublicAccessBlockConfiguration</Code></Error>")
                flags = "".join(f"<{k}>{str(v).lower()}</{k}>" for k, v in info["pab"].items())
                return self.xml(200, f"<PublicAccessBlockConfiguration>{flags}</PublicAccessBlockConfiguration>")
            if query == "policy":
                if not info["policy"]:
                    return self.xml(404, "<Error><Code>NoSuchBucketPolicy</Code></Error>")
                return self.reply(200, info["policy"])
            return self.xml(400, "<Error><Code>InvalidRequest</Code></Error>")

        def xml(self, code: int, body: str) -> None:
            raw = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(raw)

        def do_HEAD(self) -> None:
            if kind == "s3":
                return self.s3("HEAD")
            return self.reply(405, {})

        def do_GET(self) -> None:
            if kind == "s3":
                return self.s3("GET")

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
            table = {"grafana": "dashboards", "vault": "secrets", "s3": "buckets"}[kind]
            if "delete" in body:
                data[table].pop(body["delete"], None)
            for bucket, change in body.get("bucket", {}).items():
                if "public" in change:
                    data["buckets"][bucket]["pab"] = {k: not change["public"] for k in BLOCK_ALL}
                if "actions" in change:
                    data["buckets"][bucket]["policy"] = bucket_policy(bucket, change["actions"])
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
        ThreadingHTTPServer((ports.HOST, ports.S3), handler("s3", state)),
    ]

    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
