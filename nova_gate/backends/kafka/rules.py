"""Kafka rules: topics against expectations, partition health, consumer lag, lag over time.

Pure functions over the facts of :mod:`nova_gate.backends.kafka.source` (or hand-built equivalents).

* PRE-CFG-5 :func:`topics_match` — expected topics exist with their partitions, replication factor,
  ``retention.ms`` and ``cleanup.policy``.
* PST-10 :func:`topics_listed` — the topic list contains the expected topics.
* PRE-INF-4 :func:`partitions_healthy` — every partition has a leader and ``isr == replicas``; every
  expected broker is registered (and not fenced).
* P24-5 :func:`consumer_lag_below` — each group's lag is below the limit (1000).
* MON-7 :func:`lag_over_window` — each group's lag series (the exporter's ``kafka_consumergroup_lag``
  summed over its partitions, from Prometheus) over the whole stability window: a sample at or above
  the limit (1000) is a spike; so is a sustained excursion above the group's own baseline (its
  median plus the larger of k robust deviations, a multiple of itself and an absolute floor), and
  lag that grew from the window's first quarter to its last by more than that; a window without
  enough data, or whose data stops before its end, is INCONCLUSIVE.
  (:func:`lag_not_growing` judges admin-client snapshots the same Burrow-like way; no check uses it now.)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nova_gate.backends.kafka.config import Topic
from nova_gate.backends.kafka.facts import BrokerFacts, PartitionLag, TopicFacts
from nova_gate.verdict import Label, Verdict, failed, inconclusive, passed, warned, worst

#: at most this many names in a one-line reason; the rest are counted
_NAMED = 6


def _names(items: Sequence[str], limit: int = _NAMED) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return f"{', '.join(items[:limit])} and {len(items) - limit} more"


def _policy(value: str) -> frozenset[str]:
    return frozenset(p.strip() for p in value.split(",") if p.strip())


def _expected_names(expected: Iterable[Topic | str]) -> list[str]:
    return [t if isinstance(t, str) else t.name for t in expected]


# -- PRE-CFG-5 --------------------------------------------------------------------------------
def topics_match(facts: Mapping[str, TopicFacts], expected_topics: Sequence[Topic]) -> Verdict:
    """Every expected topic exists with the expected partitions, replication factor, retention.ms
    and cleanup.policy. Extra topics are fine."""
    if not expected_topics:
        return inconclusive("no expected topics configured (expectations.topics is empty)")
    problems: list[str] = []
    unknown: list[str] = []
    observed: dict[str, Any] = {}
    expected: dict[str, Any] = {}
    for topic in expected_topics:
        expected[topic.name] = {
            "partitions": topic.partitions,
            "replication_factor": topic.replication_factor,
            "retention.ms": topic.retention_ms,
            "cleanup.policy": topic.cleanup_policy,
        }
        fact = facts.get(topic.name)
        if fact is None:
            observed[topic.name] = None
            problems.append(f"topic {topic.name} missing")
            continue
        observed[topic.name] = {
            "partitions": fact.partitions,
            "replication_factor": fact.replication_factor,
            "retention.ms": fact.configs.get("retention.ms"),
            "cleanup.policy": fact.configs.get("cleanup.policy"),
        }
        if fact.partitions != topic.partitions:
            problems.append(f"{topic.name}: {fact.partitions} partitions, expected {topic.partitions}")
        if fact.replication_factor != topic.replication_factor:
            problems.append(
                f"{topic.name}: replication factor {fact.replication_factor}, expected {topic.replication_factor}"
            )
        retention = fact.configs.get("retention.ms")
        if retention is None:
            unknown.append(f"{topic.name}: retention.ms not reported")
        else:
            try:
                retention_ms: int | None = int(retention)
            except ValueError:
                retention_ms = None
            if retention_ms != topic.retention_ms:
                problems.append(f"{topic.name}: retention.ms={retention}, expected {topic.retention_ms}")
        policy = fact.configs.get("cleanup.policy")
        if policy is None:
            unknown.append(f"{topic.name}: cleanup.policy not reported")
        elif _policy(policy) != _policy(topic.cleanup_policy):
            problems.append(f"{topic.name}: cleanup.policy={policy}, expected {topic.cleanup_policy}")
    if problems:
        return failed(f"{len(problems)} topic mismatch(es): {_names(problems)}", observed, expected, problems=problems)
    if unknown:
        return inconclusive(f"topic configs not readable: {_names(unknown)}", observed, expected)
    return passed(f"all {len(expected_topics)} expected topics match", observed, expected)


# -- PST-10 -------------------------------------------------------------------------------------
def topics_listed(names: Iterable[str], expected: Iterable[Topic | str]) -> Verdict:
    """The cluster's topic list contains every expected topic."""
    wanted = _expected_names(expected)
    if not wanted:
        return inconclusive("no expected topics configured (expectations.topics is empty)")
    present = set(names)
    missing = [n for n in wanted if n not in present]
    observed = sorted(present)
    if missing:
        return failed(f"topic(s) missing: {_names(missing)}", observed, wanted, missing=missing)
    return passed(f"all {len(wanted)} expected topics listed", observed, wanted)


# -- PRE-INF-4 ----------------------------------------------------------------------------------
def partitions_healthy(
    facts: Mapping[str, TopicFacts], expected_brokers: int, brokers: Sequence[BrokerFacts]
) -> Verdict:
    """All expected brokers registered and unfenced; every partition has a leader and isr == replicas."""
    active = sorted(b.node_id for b in brokers if not b.fenced)
    fenced = sorted(b.node_id for b in brokers if b.fenced)
    problems: list[str] = []
    if len(active) < expected_brokers:
        text = f"{len(active)} of {expected_brokers} brokers registered"
        if fenced:
            text += f" (fenced: {', '.join(map(str, fenced))})"
        problems.append(text)
    no_leader: list[str] = []
    under: list[str] = []
    unknown_replicas: set[int] = set()
    partitions = 0
    for name in sorted(facts):
        for part in facts[name].partition_details:
            partitions += 1
            label = f"{name}-{part.partition}"
            if part.leader < 0:
                no_leader.append(label)
            if set(part.isr) != set(part.replicas):
                out_of_sync = sorted(set(part.replicas) - set(part.isr))
                under.append(f"{label} (out of ISR: {', '.join(map(str, out_of_sync))})")
            if active:
                unknown_replicas |= set(part.replicas) - set(active)
    if no_leader:
        problems.append(f"{len(no_leader)} partition(s) without leader: {_names(no_leader)}")
    if under:
        problems.append(f"{len(under)} under-replicated partition(s): {_names(under, 3)}")
    if unknown_replicas and len(active) < expected_brokers:
        problems.append(f"replicas on unregistered broker(s) {', '.join(map(str, sorted(unknown_replicas)))}")
    observed = {
        "brokers": active,
        "fenced_brokers": fenced,
        "partitions": partitions,
        "without_leader": no_leader,
        "under_replicated": under,
    }
    expected = {"brokers": expected_brokers, "under_replicated": 0, "without_leader": 0}
    if problems:
        return failed("; ".join(problems), observed, expected)
    if partitions == 0:
        return inconclusive("no topic partitions to inspect", observed, expected)
    return passed(f"{len(active)} brokers, {partitions} partitions all led and fully in sync", observed, expected)


# -- P24-5 ----------------------------------------------------------------------------------------
LagByGroup = Mapping[str, Mapping[str, PartitionLag | tuple[int, int, int]]]


def _lag(value: PartitionLag | tuple[int, int, int]) -> int:
    return int(value[2])


def consumer_lag_below(lag: LagByGroup, max_lag: int, groups: Iterable[str] | None = None) -> Verdict:
    """Each group's total lag (summed over its partitions) is below ``max_lag``.

    ``groups`` are the expected groups: one absent from ``lag`` or without any committed offset is
    a FAIL (it is not consuming). Partitions of its topics the group never committed count with
    every retained message (end minus log-start offset) and are named in the reason."""
    names = list(dict.fromkeys([*(groups or []), *lag]))
    if not names:
        return inconclusive("no consumer groups to evaluate")
    problems: list[str] = []
    observed: dict[str, Any] = {}
    for group in names:
        partitions = lag.get(group) or {}
        if not partitions:
            observed[group] = None
            problems.append(f"{group}: no committed offsets")
            continue
        total = sum(_lag(v) for v in partitions.values())
        worst_tp = max(partitions, key=lambda tp: _lag(partitions[tp]))
        never = sorted(tp for tp, v in partitions.items() if len(v) > 3 and v[3])
        observed[group] = {"lag": total, "worst_partition": worst_tp, "worst_lag": _lag(partitions[worst_tp]),
                           "never_committed": never}  # fmt: skip
        if total >= max_lag:
            text = f"{group}: lag {total} >= {max_lag} (worst {worst_tp}: {_lag(partitions[worst_tp])})"
            if never:
                lagging = sum(_lag(partitions[tp]) for tp in never)
                text += f"; {len(never)} partition(s) never committed ({_names(never, 3)}): {lagging} from log start"
            problems.append(text)
    expected = {"max_lag": max_lag}
    if problems:
        return failed(f"consumer lag: {_names(problems)}", observed, expected)
    return passed(f"all {len(names)} consumer groups lag < {max_lag}", observed, expected)


# -- MON-7 ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LagSample:
    """One observation of a group: time (s), committed and end offsets summed over its partitions."""

    t: float
    committed: int
    end: int

    @property
    def lag(self) -> int:
        return max(self.end - self.committed, 0)

    @classmethod
    def of(cls, t: float, partitions: Mapping[str, PartitionLag | tuple[int, int, int]]) -> LagSample:
        return cls(t, sum(int(v[0]) for v in partitions.values()), sum(int(v[1]) for v in partitions.values()))


def samples_from_snapshots(
    snapshots: Sequence[tuple[float, LagByGroup]],
) -> dict[str, list[LagSample]]:
    """Turn ``[(t, source.consumer_group_lag(...)), ...]`` into per-group sample lists. A group with
    no committed offsets in a snapshot contributes no sample for that time."""
    out: dict[str, list[LagSample]] = {}
    for t, lag in snapshots:
        for group, partitions in lag.items():
            out.setdefault(group, [])
            if partitions:
                out[group].append(LagSample.of(t, partitions))
    return out


def _group_trend(group: str, samples: Sequence[LagSample], max_lag: int, min_samples: int) -> Verdict:
    ordered = sorted(samples, key=lambda s: s.t)
    lags = [s.lag for s in ordered]
    observed: dict[str, Any] = {
        "samples": len(ordered),
        "lag": lags,
        "committed": [s.committed for s in ordered],
    }
    if len(ordered) < min_samples:
        return inconclusive(f"{group}: {len(ordered)} sample(s), need {min_samples}", observed)
    first, last = ordered[0], ordered[-1]
    peak_i = max(range(len(lags)), key=lambda i: lags[i])
    if lags[peak_i] >= max_lag:
        return failed(
            f"{group}: lag spike {lags[peak_i]} >= {max_lag} at +{ordered[peak_i].t - first.t:.0f}s",
            observed,
        )
    # the trailing run of samples in which the committed offset did not move
    run_start = len(ordered) - 1
    while run_start > 0 and ordered[run_start - 1].committed == last.committed:
        run_start -= 1
    stuck = ordered[run_start]
    if run_start < len(ordered) - 1 and last.lag > stuck.lag:
        return failed(
            f"{group}: committed offset stuck at {last.committed} for {last.t - stuck.t:.0f}s while lag "
            f"grew {stuck.lag} -> {last.lag} (stalled consumer)",
            observed,
        )
    if any(b.committed < a.committed for a, b in itertools.pairwise(ordered)):
        return warned(f"{group}: committed offset went backwards (offsets reset?)", observed)
    rising = all(b > a for a, b in itertools.pairwise(lags))
    if len(ordered) >= 3 and rising:
        return warned(f"{group}: lag rose in every interval {lags[0]} -> {lags[-1]} (falling behind)", observed)
    return passed(f"{group}: lag {first.lag} -> {last.lag}, peak {lags[peak_i]}", observed)


def lag_not_growing(samples: Mapping[str, Sequence[LagSample]], max_lag: int, min_samples: int = 2) -> Verdict:
    """Evaluate each group's lag over the window; see the module docstring for the rules."""
    if not samples:
        return inconclusive("no consumer lag samples")
    parts = {group: _group_trend(group, samples[group], max_lag, min_samples) for group in sorted(samples)}
    label = worst(v.label for v in parts.values())
    bad = [v.reason for v in parts.values() if v.label is not Label.PASS]
    reason = "; ".join(bad) if bad else f"no lag spike or stall in {len(parts)} consumer groups"
    observed = {group: v.observed for group, v in parts.items()}
    return Verdict(
        label,
        reason,
        observed,
        {"max_lag": max_lag, "committed": "advancing while lag grows"},
        {"groups": {group: v.as_dict() for group, v in parts.items()}},
    )


# -- MON-7 over the window (the lag metric) ---------------------------------------------------------
LagSeries = Sequence[tuple[float, float | None]]


@dataclass(frozen=True)
class LagSpikeRules:
    """How MON-7 reads a group's lag series (one point per ``step_s`` of the window)."""

    max_lag: int = 1000
    #: a spike is above median + max(k * 1.4826 * MAD, (factor - 1) * median, min_excess)
    deviations: float = 5.0
    factor: float = 3.0
    min_excess: float = 100.0
    #: consecutive points (30 s at a 15 s step) above the baseline's limit that make a spike
    sustain_points: int = 2
    #: missing points inside a spike that do not end it; more at the window's end = data stopped
    max_gap_points: int = 4
    min_coverage: float = 0.8
    step_s: float = 15.0


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def _limit(values: Sequence[float], rules: LagSpikeRules) -> tuple[float, float]:
    """(baseline, limit above which a point is an excursion) of ``values``."""
    base = _median(values)
    scale = 1.4826 * _median([abs(v - base) for v in values])
    return base, base + max(rules.deviations * scale, (rules.factor - 1) * base, rules.min_excess)


def _group_window(group: str, series: LagSeries, rules: LagSpikeRules) -> Verdict:
    points = list(series)
    present = [(t, float(v)) for t, v in points if v is not None and math.isfinite(v)]
    values = [v for _, v in present]
    observed: dict[str, Any] = {"points": len(points), "present": len(present)}
    if not points or not present:
        return inconclusive(f"{group}: no lag series in the window", observed)
    coverage = len(present) / len(points)
    observed["coverage"] = round(coverage, 3)
    base, limit = _limit(values, rules)
    peak_t, peak = max(present, key=lambda p: p[1])
    start = points[0][0]
    observed.update(baseline=round(base, 1), limit=round(limit, 1), peak=round(peak), peak_at_s=round(peak_t - start))
    if peak >= rules.max_lag:
        return failed(f"{group}: lag {peak:.0f} >= {rules.max_lag} at +{peak_t - start:.0f}s of the window", observed)
    # excursions above the baseline's limit, a gap of up to max_gap_points inside one not ending it
    trailing_gap = 0
    for _, v in reversed(points):
        if v is not None and math.isfinite(v):
            break
        trailing_gap += 1
    runs: list[tuple[int, int, float]] = []  # (first index, points above, highest)
    current: list[Any] | None = None
    missing = 0
    for i, (_, v) in enumerate(points):
        if v is None or not math.isfinite(v):
            missing += 1
            if current is not None and missing > rules.max_gap_points:
                runs.append((current[0], current[1], current[2]))
                current = None
            continue
        missing = 0
        if v > limit:
            if current is None:
                current = [i, 0, v]
            current[1] += 1
            current[2] = max(current[2], v)
        elif current is not None:
            runs.append((current[0], current[1], current[2]))
            current = None
    open_run = current
    spikes = [r for r in runs if r[1] >= rules.sustain_points]
    if open_run is not None and open_run[1] >= rules.sustain_points:
        spikes.append((open_run[0], open_run[1], open_run[2]))
    observed["spikes"] = [{"at_s": round(points[i][0] - start), "points": n, "peak": round(h)} for i, n, h in spikes]
    if spikes:
        i, n, h = max(spikes, key=lambda r: r[2])
        return failed(
            f"{group}: lag spike to {h:.0f} for {n * rules.step_s:.0f}s at +{points[i][0] - start:.0f}s "
            f"(baseline {base:.0f}, limit {limit:.0f})",
            observed,
        )
    # growth: the last quarter's level against the first quarter's baseline and limit
    quarter = max(len(present) // 4, 1)
    first = [v for _, v in present[:quarter]]
    last = [v for _, v in present[-quarter:]]
    if len(present) >= 8:
        early_base, early_limit = _limit(first, rules)
        late = _median(last)
        observed.update(first_quarter=round(early_base, 1), last_quarter=round(late, 1))
        if late > early_limit:
            return failed(
                f"{group}: lag grew from {early_base:.0f} to {late:.0f} over the window (limit {early_limit:.0f}): "
                "the consumer is falling behind",
                observed,
            )
    if coverage < rules.min_coverage:
        return inconclusive(
            f"{group}: lag data for {coverage:.0%} of the window, need {rules.min_coverage:.0%}", observed
        )
    if trailing_gap > rules.max_gap_points:
        return inconclusive(
            f"{group}: no lag data for the last {trailing_gap * rules.step_s:.0f}s of the window", observed
        )
    if open_run is not None:
        return inconclusive(
            f"{group}: lag {open_run[2]:.0f} above its limit {limit:.0f} at the end of the window "
            f"(baseline {base:.0f}): too short yet to tell",
            observed,
        )
    return passed(f"{group}: lag median {base:.0f}, peak {peak:.0f} (limit {min(limit, rules.max_lag):.0f})", observed)


def lag_over_window(
    series: Mapping[str, LagSeries], rules: LagSpikeRules, groups: Iterable[str] | None = None
) -> Verdict:
    """MON-7: every expected group's (and every other reported group's) lag over the window, see the
    module docstring. An expected group without a series is INCONCLUSIVE (the exporter does not see it)."""
    names = list(dict.fromkeys([*(groups or []), *(g for g in series if g)]))
    if not names:
        return inconclusive("no consumer groups to evaluate")
    parts = {g: _group_window(g, series.get(g) or [], rules) for g in names}
    label = worst(v.label for v in parts.values())
    bad = [v.reason for v in parts.values() if v.label is not Label.PASS]
    reason = "; ".join(bad) if bad else f"no lag spike in {len(parts)} consumer groups over the window"
    if len(bad) > _NAMED:
        reason = "; ".join(bad[:_NAMED]) + f"; and {len(bad) - _NAMED} more"
    expected = {
        "max_lag": rules.max_lag,
        "spike_above": f"median + max({rules.deviations:g} robust deviations, {rules.factor:g}x median, "
        f"+{rules.min_excess:g}) for {rules.sustain_points} points",
        "min_coverage": rules.min_coverage,
    }
    return Verdict(
        label,
        reason,
        {g: v.observed for g, v in parts.items()},
        expected,
        {"groups": {g: v.as_dict() for g, v in parts.items()}},
    )
