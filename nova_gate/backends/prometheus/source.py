"""Prometheus facts over its HTTP API (httpx): range and instant queries, targets, rules. No verdicts.

``range_by`` answers one query for every service at once: ``sum by (service, version) (...)`` comes
back as ``{("feed-service", "v1.0.0"): [(ts, value | None), ...], ...}`` on the query's step grid,
with ``None`` where Prometheus had no sample (so gaps stay visible to the rules).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import httpx

from nova_gate.backends.base import SourceError
from nova_gate.backends.http_api import ABSENT, HttpApiSource
from nova_gate.backends.prometheus.config import Prometheus

Sample = tuple[float, float | None]
Key = tuple[str, ...]

#: Prometheus refuses range queries over this many points per series
MAX_POINTS = 11_000


class PrometheusSource(HttpApiSource):
    backend = "prometheus"

    def __init__(self, cfg: Prometheus, client: httpx.Client | None = None) -> None:
        super().__init__(cfg.url, timeout_s=cfg.timeout_s, client=client, options=cfg.client_options)
        self.cfg = cfg

    def error_detail(self, response: httpx.Response) -> str:
        """Prometheus' error body: ``{"status": "error", "errorType": ..., "error": ...}``."""
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return f"not a JSON object: {super().error_detail(response)}"
        return f"{doc.get('errorType', 'error')}: {doc.get('error', super().error_detail(response))}"

    def _data(self, what: str, path: str, params: dict[str, str] | None = None) -> Any:
        """GET an API path and return its ``data``; the status table and ``status: error`` decide errors."""
        doc = self.get_json(path, what=what, params=params)
        if doc is ABSENT:
            raise SourceError(self.backend, what, f"HTTP 404: no {path} here (is this Prometheus?)")
        if not isinstance(doc, dict):
            raise SourceError(self.backend, what, "not a JSON object")
        if doc.get("status") != "success":
            raise SourceError(self.backend, what, f"{doc.get('errorType', 'error')}: {doc.get('error', '?')}")
        return doc.get("data")

    # -- queries ---------------------------------------------------------------------------------------
    def query_range(self, query: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        """The raw matrix of ``/api/v1/query_range``: ``[{"metric": {...}, "values": [[ts, "v"], ...]}]``."""
        what = f"query_range {query}"
        if step <= 0 or end < start:
            raise SourceError(self.backend, what, f"bad range: start={start} end={end} step={step}")
        if (end - start) / step + 1 > MAX_POINTS:
            raise SourceError(
                self.backend,
                what,
                f"{(end - start) / step:.0f} points per series; at most {MAX_POINTS} (use a coarser step)",
            )
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        data = self._data(what, "/api/v1/query_range", params)
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise SourceError(self.backend, what, "answer is not a matrix")
        return [r for r in data.get("result") or [] if isinstance(r, dict)]

    def range_by(
        self,
        query: str,
        start: float,
        end: float,
        step: float,
        by: tuple[str, ...] = ("service", "version"),
        expect: Iterable[Key] = (),
    ) -> dict[Key, list[Sample]]:
        """One range query split by the ``by`` labels, on the step grid; ``expect`` keys default to ``[]``."""
        what = f"query_range {query}"
        grid = [start + k * step for k in range(math.floor((end - start) / step + 1e-9) + 1)]
        out: dict[Key, list[Sample]] = {key: [] for key in expect}
        for result in self.query_range(query, start, end, step):
            labels = result.get("metric") or {}
            key = tuple(str(labels.get(name, "")) for name in by)
            if out.get(key):
                raise SourceError(
                    self.backend,
                    what,
                    f"several series for {dict(zip(by, key, strict=True))}; aggregate with sum by ({', '.join(by)})",
                )
            values = {_slot(float(ts), start, step): _value(v) for ts, v in result.get("values") or []}
            out[key] = [(ts, values.get(k)) for k, ts in enumerate(grid)]
        return out

    def query(self, query: str, at: float | None = None) -> list[dict[str, Any]]:
        """The raw vector of ``/api/v1/query``: ``[{"metric": {...}, "value": [ts, "v"]}]``."""
        params = {"query": query}
        if at is not None:
            params["time"] = f"{at:.3f}"
        what = f"query {query}"
        data = self._data(what, "/api/v1/query", params)
        if not isinstance(data, dict) or data.get("resultType") not in ("vector", "scalar"):
            raise SourceError(self.backend, what, "answer is not a vector")
        if data["resultType"] == "scalar":
            ts, value = data.get("result") or (None, None)
            return [{"metric": {}, "value": [ts, value]}]
        return [r for r in data.get("result") or [] if isinstance(r, dict)]

    def instant_by(
        self, query: str, at: float | None = None, by: tuple[str, ...] = ("service", "version")
    ) -> dict[Key, float | None]:
        """One instant query split by the ``by`` labels; NaN becomes ``None``."""
        out: dict[Key, float | None] = {}
        for result in self.query(query, at):
            labels = result.get("metric") or {}
            pair = result.get("value") or (None, None)
            out[tuple(str(labels.get(name, "")) for name in by)] = _value(pair[1])
        return out

    # -- configuration and state -----------------------------------------------------------------------
    def targets(self, state: str = "active") -> list[dict[str, Any]]:
        """Scrape targets (``activeTargets``): labels, health, lastError, lastScrape."""
        data = self._data("GET /api/v1/targets", "/api/v1/targets", {"state": state})
        if not isinstance(data, dict):
            raise SourceError(self.backend, "GET /api/v1/targets", "answer is not an object")
        return [t for t in data.get("activeTargets") or [] if isinstance(t, dict)]

    def rules(self, kind: str | None = "alert") -> list[dict[str, Any]]:
        """Every loaded rule (alerting only by default), each with its ``group`` and ``file`` added."""
        params = {"type": kind} if kind else None
        data = self._data("GET /api/v1/rules", "/api/v1/rules", params)
        if not isinstance(data, dict):
            raise SourceError(self.backend, "GET /api/v1/rules", "answer is not an object")
        out: list[dict[str, Any]] = []
        for group in data.get("groups") or []:
            if not isinstance(group, dict):
                continue
            for rule in group.get("rules") or []:
                if isinstance(rule, dict):
                    out.append({**rule, "group": group.get("name"), "file": group.get("file")})
        return out


def _slot(ts: float, start: float, step: float) -> int:
    return round((ts - start) / step)


def _value(raw: Any) -> float | None:
    """A sample value as Prometheus encodes it ("1.5", "NaN", "+Inf"); NaN and garbage become None."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value
