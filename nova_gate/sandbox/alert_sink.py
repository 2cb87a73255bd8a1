"""A local stand-in for Slack and PagerDuty webhooks: records every POST it receives.

Run as ``python -m nova_gate.sandbox.alert_sink --port 59095 --record FILE``. Each POST is
appended to FILE as one JSON line ({"received_at", "path", "body"}) and answered like the SaaS
would (Slack: ``ok``; PagerDuty Events v2: 202 with a dedup key). ``GET /received`` returns the
recorded notifications as a JSON list, ``GET /-/healthy`` answers ``OK``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_LOCK = threading.Lock()
MAX_BODY = 4 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    server_version = "nova-alert-sink/1"
    record: Path

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/-/healthy":
            self._reply(200, b"OK", "text/plain")
        elif self.path == "/received":
            with _LOCK:
                lines = self.record.read_text().splitlines() if self.record.exists() else []
            self._reply(200, json.dumps([json.loads(line) for line in lines if line]).encode())
        else:
            self._reply(404, b'{"error": "not found"}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._reply(413, b'{"error": "too large"}')
            return
        raw = self.rfile.read(length)
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode(errors="replace")
        entry = {"received_at": time.time(), "path": self.path, "body": body}
        with _LOCK, self.record.open("a") as fh:
            fh.write(json.dumps(entry) + "\n")
        if self.path.startswith("/pagerduty"):
            key = body.get("dedup_key", "") if isinstance(body, dict) else ""
            reply = {"status": "success", "message": "Event processed", "dedup_key": key}
            self._reply(202, json.dumps(reply).encode())
        else:
            self._reply(200, b"ok", "text/plain")

    def log_message(self, format: str, *args: Any) -> None:  # quieter than the default
        print(f"{self.address_string()} {format % args}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=59095)
    parser.add_argument("--record", type=Path, required=True)
    args = parser.parse_args(argv)
    args.record.parent.mkdir(parents=True, exist_ok=True)
    handler = type("Handler", (_Handler,), {"record": args.record})
    server = ThreadingHTTPServer((args.host, args.port), handler)
    print(f"alert sink on {args.host}:{args.port}, recording to {args.record}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
