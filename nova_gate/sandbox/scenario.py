"""Scenario files (sandbox/scenarios/*.yaml): read within bounds, validated, errors as ``file:key: reason``.

The format is sandbox/scenarios/README.md's. Reading is bounded (``nova_gate.safeyaml``: size, depth,
aliases, duplicate keys) and the document is validated with pydantic before the simulator compiles
it, so a scenario that would silently do nothing (a segment outside the window, a p95 above the
p99, an error rate of 150%) or take forever to backfill (a year at one-second steps) is an error
that names its key.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from nova_gate import safeyaml
from nova_gate.config import check_identifier
from nova_gate.sandbox import ports, sim_model
from nova_gate.sandbox.base import SandboxError

#: bounds that keep a backfill to seconds (window / step points, fine_window / 15 s points)
MAX_WINDOW_S = 31 * 86400.0
MIN_STEP_S = 15.0
MAX_FINE_WINDOW_S = 86400.0


class ScenarioError(SandboxError):
    """A scenario file problem, rendered as ``file:key: reason`` (bad input: exit 2)."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        super().__init__(f"{file}:{key}: {reason}")
        self.file, self.key, self.reason = file, key, reason


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("not a duration")
    try:
        seconds = sim_model.parse_duration(value)
    except (ValueError, TypeError):
        raise ValueError(f"not a duration: {value!r} (e.g. -15m, 90s, 2h)") from None
    if not math.isfinite(seconds):
        raise ValueError("not a finite duration")
    return seconds


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=False)


Pct = Annotated[float, Field(ge=0, le=100)]
NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


class _Latency(_Model):
    p50_ms: Positive | None = None
    p95_ms: Positive | None = None
    p99_ms: Positive | None = None

    @model_validator(mode="after")
    def _ordered(self) -> _Latency:
        given = [(k, getattr(self, k)) for k in ("p50_ms", "p95_ms", "p99_ms") if getattr(self, k) is not None]
        for (lo_key, lo), (hi_key, hi) in itertools.pairwise(given):
            if lo > hi:
                raise ValueError(f"{lo_key} ({lo:g}) above {hi_key} ({hi:g}): percentiles must not decrease")
        return self


class VersionParams(_Latency):
    rps: Annotated[float, Field(ge=0, le=100_000)] | None = None
    error_pct: Pct | None = None
    cpu_pct: Pct | None = None
    memory_mb: NonNegative | None = None
    memory_slope_mb_per_h: Annotated[float, Field(ge=-100_000, le=100_000)] | None = None
    memory_limit_mb: Positive | None = None
    absent: StrictBool | None = None


class _Span(_Model):
    """``from`` / ``to``: offsets from the scenario's end (``-15m``; none: the window's start / open-ended)."""

    from_: Any = Field(default=None, alias="from")
    to: Any = None

    @field_validator("from_", "to")
    @classmethod
    def _offset(cls, value: Any) -> Any:
        return None if value is None else _seconds(value)

    @model_validator(mode="after")
    def _span(self) -> _Span:
        if self.from_ is not None and self.to is not None and self.to <= self.from_:
            raise ValueError("'to' must be after 'from'")
        return self


class Segment(_Span, VersionParams):
    pass


class VersionTrack(VersionParams):
    segments: list[Segment] = Field(default_factory=list, max_length=1000)


class KafkaSegment(_Span):
    lag: NonNegative | None = None


class KafkaTrack(_Model):
    lag: NonNegative | None = None
    segments: list[KafkaSegment] = Field(default_factory=list, max_length=1000)


class Block(BaseModel):
    """One level of tracks (``defaults``, ``services.all``, ``services.<name>``): version labels
    (any other key) and ``kafka``."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    __pydantic_extra__: dict[str, VersionTrack] = Field(init=False)
    kafka: KafkaTrack | None = None

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, value: Any) -> Any:
        # ``v1.0.0:`` with nothing under it is an empty track, as the simulator reads it
        return {k: ({} if v is None else v) for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _labels(self) -> Block:
        for label in self.__pydantic_extra__ or {}:
            check_identifier(str(label), "version label")
        return self

    def tracks(self) -> dict[str, VersionTrack | KafkaTrack]:
        out: dict[str, VersionTrack | KafkaTrack] = dict(self.__pydantic_extra__ or {})
        if self.kafka is not None:
            out["kafka"] = self.kafka
        return out


class Scenario(_Model):
    name: str | None = None
    description: str = Field(default="", max_length=2000)
    window: Any = Field(default="24h", validate_default=True)
    step: Any = Field(default="60s", validate_default=True)
    fine_window: Any = Field(default="3h", validate_default=True)
    noise: StrictBool = True
    seed: StrictInt = 0
    defaults: Block | None = None
    services: dict[str, Block | None] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else check_identifier(value, "scenario name")

    @field_validator("window", "step", "fine_window")
    @classmethod
    def _duration(cls, value: Any) -> float:
        seconds = _seconds(value)
        if seconds <= 0:
            raise ValueError("must be positive")
        return seconds

    @field_validator("services")
    @classmethod
    def _services(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        unknown = sorted(str(s) for s in value or {} if s not in {"all", *ports.SERVICES})
        if unknown:
            raise ValueError(f"unknown service {unknown[0]!r}; known: all, {', '.join(ports.SERVICES)}")
        return value


def _bounds(doc: Scenario) -> list[tuple[str, str]]:
    """Windows and steps that would make a backfill take forever or do nothing."""
    window, step, fine = float(doc.window), float(doc.step), float(doc.fine_window)
    out = []
    if window > MAX_WINDOW_S:
        out.append(("window", f"{window:g} s is longer than {MAX_WINDOW_S:g} s (31 days)"))
    if step < MIN_STEP_S:
        out.append(("step", f"{step:g} s is shorter than the scrape interval ({MIN_STEP_S:g} s)"))
    if step > window:
        out.append(("step", f"{step:g} s is longer than the window ({window:g} s)"))
    if fine > min(window, MAX_FINE_WINDOW_S):
        out.append(("fine_window", f"{fine:g} s is longer than the window or a day"))
    return out


def _segments_outside(doc: Scenario) -> list[tuple[str, str]]:
    """Segments that end before the window starts: they would change nothing."""
    out = []
    blocks = [("defaults", doc.defaults)] + [(f"services.{s}", b) for s, b in (doc.services or {}).items()]
    for where, block in blocks:
        for key, track in (block.tracks() if block is not None else {}).items():
            for i, seg in enumerate(track.segments):
                if seg.to is not None and seg.to <= -float(doc.window):
                    out.append((f"{where}.{key}.segments[{i}].to", "ends before the window starts (changes nothing)"))
    return out


def _key(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        part = "from" if part == "from_" else part
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def validate(raw: Any, file: str) -> dict[str, Any]:
    """Validate a parsed scenario document; return it (with ``name`` filled in by the caller)."""
    if not isinstance(raw, dict):
        raise ScenarioError(file, "<root>", "expected a mapping (name, window, defaults, services, ...)")
    try:
        doc = Scenario.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        reason = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            reason = "unknown key"
        raise ScenarioError(file, _key(loc), reason) from None
    problems = _bounds(doc) + _segments_outside(doc)
    if problems:
        raise ScenarioError(file, *problems[0])
    try:  # the simulator's own compile: anything it still refuses is an error here too
        sim_model.compile_scenario(raw, 0.0)
    except (ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(file, "<root>", str(exc)) from None
    return dict(raw)


def read(path: Path) -> dict[str, Any]:
    """Read and validate one scenario file; raise ScenarioError on any problem."""
    file = str(path)
    try:
        raw = safeyaml.read(path, "scenario")
    except safeyaml.YamlProblem as exc:
        raise ScenarioError(file, exc.where, exc.reason) from None
    return validate(raw, file)
