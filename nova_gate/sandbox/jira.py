"""A local stand-in for Jira Cloud's REST API v3, only as far as ``nova-gate attach`` uses it.

It checks the calls the way Jira documents them and answers in Jira's shapes:

- basic auth ``email:api_token`` (or a bearer token), else 401;
- ``GET /rest/api/3/issue/{key}``: 404 with ``errorMessages`` for an unknown key;
- ``POST /rest/api/3/issue/{key}/attachments``: 403 "XSRF check failed" without
  ``X-Atlassian-Token: no-check``; multipart/form-data with the part named ``file``; answers a
  JSON array of attachment objects;
- ``POST /rest/api/3/issue/{key}/comment``: JSON ``{"body": <ADF doc, version 1>}``, else 400;
  answers 201 with the comment.

Every call is recorded in ``calls`` (headers minus Authorization) for the self-tests.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import itertools
from dataclasses import dataclass, field
from typing import Any


@dataclass
class JiraState:
    email: str
    token: str
    issues: dict[str, str]  # key -> summary
    attachments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    ids: Any = field(default_factory=lambda: itertools.count(10000))
    max_bytes: int = 10 * 1024 * 1024  # the attachment size limit (Jira Cloud's default is far larger)


def _multipart_files(content_type: str, body: bytes) -> list[tuple[str, str, bytes, str]]:
    """(field name, filename, bytes, content type) of each part, parsed with the stdlib."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    )
    if not msg.is_multipart():
        return []
    parts = []
    for part in msg.iter_parts():
        disposition = part.get("Content-Disposition", "")
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        if "form-data" in disposition and name:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            parts.append((str(name), str(filename or ""), data, part.get_content_type()))
    return parts


def create_app(state: JiraState) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    def authorised(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        basic = "Basic " + base64.b64encode(f"{state.email}:{state.token}".encode()).decode()
        return header in (basic, f"Bearer {state.token}")

    async def record(request: Request) -> bytes:
        body = await request.body()
        state.calls.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": {k: v for k, v in request.headers.items() if k != "authorization"},
                "authorised": authorised(request),
                "body_bytes": len(body),
            }
        )
        return body

    def not_found(key: str) -> JSONResponse:
        return JSONResponse(
            {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}, 404
        )

    async def issue(request: Request) -> Response:
        await record(request)
        if not authorised(request):
            return Response("Unauthorized", 401, media_type="text/plain")
        key = request.path_params["key"]
        if key not in state.issues:
            return not_found(key)
        return JSONResponse({"id": "10001", "key": key, "fields": {"summary": state.issues[key]}})

    async def attachments(request: Request) -> Response:
        body = await record(request)
        if not authorised(request):
            return Response("Unauthorized", 401, media_type="text/plain")
        if request.headers.get("x-atlassian-token") != "no-check":
            return Response("XSRF check failed", 403, media_type="text/plain")
        key = request.path_params["key"]
        if key not in state.issues:
            return not_found(key)
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return JSONResponse({"errorMessages": ["expected multipart/form-data"], "errors": {}}, 415)
        files = [p for p in _multipart_files(content_type, body) if p[0] == "file"]
        if not files:
            return JSONResponse({"errorMessages": ["no part named 'file'"], "errors": {}}, 400)
        if any(len(p[2]) > state.max_bytes for p in files):
            return JSONResponse({"errorMessages": ["The file is too large."], "errors": {}}, 413)
        out = []
        for _, filename, data, mime in files:
            att_id = str(next(state.ids))
            att = {
                "self": f"{request.base_url}rest/api/3/attachment/{att_id}",
                "id": att_id,
                "filename": filename,
                "size": len(data),
                "mimeType": mime,
                "content": f"{request.base_url}rest/api/3/attachment/content/{att_id}",
                "author": {"emailAddress": state.email},
                "created": "2026-01-01T00:00:00.000+0000",
                "_data": data,
            }
            state.attachments.setdefault(key, []).append(att)
            out.append({k: v for k, v in att.items() if k != "_data"})
        return JSONResponse(out)

    async def comment(request: Request) -> Response:
        body = await record(request)
        if not authorised(request):
            return Response("Unauthorized", 401, media_type="text/plain")
        key = request.path_params["key"]
        if key not in state.issues:
            return not_found(key)
        import json

        try:
            doc = json.loads(body)
            adf = doc["body"]
            ok = adf["type"] == "doc" and adf["version"] == 1 and isinstance(adf["content"], list)
        except (ValueError, KeyError, TypeError):
            ok = False
        if not request.headers.get("content-type", "").startswith("application/json") or not ok:
            return JSONResponse({"errorMessages": [], "errors": {"comment": "Comment body is not valid!"}}, 400)
        cid = str(next(state.ids))
        state.comments.setdefault(key, []).append({"id": cid, "body": adf})
        return JSONResponse({"id": cid, "body": adf, "created": "2026-01-01T00:00:00.000+0000"}, 201)

    return Starlette(
        routes=[
            Route("/rest/api/3/issue/{key}", issue, methods=["GET"]),
            Route("/rest/api/3/issue/{key}/attachments", attachments, methods=["POST"]),
            Route("/rest/api/3/issue/{key}/comment", comment, methods=["POST"]),
        ]
    )
