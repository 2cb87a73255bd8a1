"""The checklist's "X above a limit for 5 minutes", judged on counts over sliding windows.

Inputs are *window counts* on the gate's scrape-step grid: at every step ``t`` the number of requests
and of "events" (errors, or requests slower than a latency limit) in ``(t - W, t]`` -- Prometheus'
``increase(...[5m])`` -- so every request counts and no resampled rate decides.

Semantics (one-sided confidence ``1 - alpha``, 95 % by default):

* a window is **clearly within** when the upper confidence bound of its ratio is below the limit
  (exact Poisson/Garwood bounds on the event count); only such a window restarts the clock, so a noisy
  dip that is not clearly below the limit does not;
* a breach is **sustained** at ``t`` when no window ending in ``[t - L, t]`` is clearly within (a gap of
  up to ``max_gap`` missing steps does not end the stretch, a longer one does), ``L >= sustain``, and the
  disjoint windows ending at ``t, t - W, t - 2W, ...`` inside that stretch -- pooled, they cover
  ``(t - L - W, t]`` -- show the ratio **clearly above** the limit (lower bound above it). Noise-free,
  Prometheus' ``for: 5m`` over ``rate(...[5m]) > limit`` implies exactly this pooled condition (its two
  disjoint windows ``t - 5m`` and ``t`` are both above), so the rule is its statistical reading;
* a PASS needs evidence: the whole gate window, pooled, must be clearly within the limit; with too few
  requests to tell it is INCONCLUSIVE (how many requests it had, how many it would need);
* a limit written "< X" (``inclusive=True``) fails at exactly X.

Every function works on arrays of shape ``(trials, steps)`` so ``bench/judgment.py`` runs the very rule
the gates use on thousands of synthetic series at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import betaincinv, gammaincinv, ndtri

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]
Counts = tuple[Array, ...]
Test = Callable[[Counts], Mask]

DEFAULT_ALPHA = 0.05
#: one-sided level of the *breach evidence* (the pooled lower bound): a breach must also have no window
#: clearly within for the whole sustain, so the two together keep false rollbacks rare (bench/judgment.py)
DEFAULT_ALPHA_BREACH = 0.25


# -- exact bounds ------------------------------------------------------------------------------------
def poisson_upper(k: Array | float, alpha: float) -> Array:
    """Upper one-sided ``1 - alpha`` bound on a Poisson mean after ``k`` events (``k`` may be fractional)."""
    k = np.maximum(np.asarray(k, dtype=float), 0.0)
    return np.asarray(gammaincinv(k + 1.0, 1.0 - alpha), dtype=float)


def poisson_lower(k: Array | float, alpha: float) -> Array:
    """Lower one-sided ``1 - alpha`` bound on a Poisson mean after ``k`` events (0 for no event)."""
    k = np.asarray(k, dtype=float)
    safe = np.where(k > 0, k, 1.0)
    return np.where(k > 0, np.asarray(gammaincinv(safe, alpha), dtype=float), 0.0)


def ratio_bounds(e1: Array, n1: Array, e0: Array, n0: Array, alpha: float) -> tuple[Array, Array]:
    """One-sided bounds of the rate ratio ``(e1/n1) / (e0/n0)`` (conditional binomial, Clopper-Pearson)."""
    e1 = np.maximum(np.asarray(e1, dtype=float), 0.0)
    e0 = np.maximum(np.asarray(e0, dtype=float), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        pi_lo = np.where(e1 > 0, betaincinv(np.where(e1 > 0, e1, 1.0), e0 + 1.0, alpha), 0.0)
        pi_hi = np.where(e0 > 0, betaincinv(e1 + 1.0, np.where(e0 > 0, e0, 1.0), 1.0 - alpha), 1.0)
        scale = np.asarray(n0, dtype=float) / np.asarray(n1, dtype=float)
        lo = np.where(pi_lo < 1, pi_lo / (1 - pi_lo), np.inf) * scale
        hi = np.where(pi_hi < 1, pi_hi / (1 - pi_hi), np.inf) * scale
    return np.nan_to_num(lo, nan=0.0), np.nan_to_num(hi, nan=np.inf)


# -- the sustained-stretch engine ---------------------------------------------------------------------
def consecutive_missing(missing: Mask) -> NDArray[np.int64]:
    """For every step, how many steps in a row (itself included) have been missing."""
    c = np.cumsum(missing, axis=-1)
    anchor = np.maximum.accumulate(np.where(~missing, c, 0), axis=-1)
    return np.asarray(c - anchor, dtype=np.int64)


def _shift(a: Array, by: int) -> Array:
    """``a`` delayed by ``by`` steps along the last axis of the (trials, steps) part, zero-filled."""
    if by == 0:
        return a
    out = np.zeros_like(a)
    out[:, by:] = a[:, :-by]
    return out


@dataclass(frozen=True)
class Stretches:
    """What the engine found, per trial (row)."""

    breach: Mask  # (T, S): a sustained breach is established at this step
    first: NDArray[np.int64]  # (T,): first such step, -1 if none
    start: NDArray[np.int64]  # (T,): start step of the stretch that made the first breach, -1 if none
    within: Mask  # (T, S): the window ending here is clearly within the limit
    reset: Mask  # (T, S): the clock restarts here (clearly within, or a long gap)


def sustained(
    counts: Counts,
    missing: Mask,
    beyond: Test,
    within: Test,
    window_steps: int,
    sustain_steps: int,
    max_gap: int,
    max_stretches: int | None = None,
) -> Stretches:
    """Find sustained breaches: stretches of >= ``sustain_steps`` with no clearly-within window whose
    disjoint windows, pooled, are clearly beyond. ``counts`` arrays are (T, S[, ...]) with missing = 0."""
    rows, steps = missing.shape
    idx = np.arange(steps)
    clear = within(counts) & ~missing
    reset = clear | (missing & (consecutive_missing(missing) > max_gap))
    last_reset = np.maximum.accumulate(np.where(reset, idx, -1), axis=1)
    breach = np.zeros((rows, steps), dtype=bool)
    start = np.full((rows, steps), -1, dtype=np.int64)
    window_steps = max(1, window_steps)
    tiles: list[Array] = [np.array(a, dtype=float, copy=True) for a in counts]
    used = 1
    length = sustain_steps
    tried = 0
    while length < steps and (max_stretches is None or tried < max_stretches):
        tried += 1
        need = length // window_steps + 1
        while used < need:
            for pooled, a in zip(tiles, counts, strict=True):
                pooled += _shift(a, used * window_steps)
            used += 1
        ok = beyond(tuple(tiles)) & (last_reset < idx - length) & ~missing
        ok[:, :length] = False
        start = np.where(ok & ~breach, idx - length, start)
        breach |= ok
        length += window_steps
    has = breach.any(axis=1)
    first = np.where(has, breach.argmax(axis=1), -1)
    first_start = np.where(has, start[np.arange(rows), np.maximum(first, 0)], -1)
    return Stretches(breach, first, first_start, clear, reset)


def pooled_tiles(counts: Counts, window_steps: int, end: int | None = None) -> Counts:
    """Disjoint windows ending at the last step (or ``end``), back to the start: the whole gate window."""
    steps = counts[0].shape[1]
    last = steps - 1 if end is None else end
    w = max(1, window_steps)
    # windows that start inside the grid (the one ending at step 0 reaches before it), at least one
    picks = list(range(last, w - 2, -w)) or [last]
    return tuple(a[:, picks].sum(axis=1) for a in counts)


# -- tests for the three families -----------------------------------------------------------------------
def excess_tests(
    limit: float, alpha: float, inclusive: bool, alpha_breach: float = DEFAULT_ALPHA_BREACH
) -> tuple[Test, Test, Test]:
    """(beyond, within, above) for "events / requests > limit" (a fraction, e.g. 0.01)."""

    def beyond(c: Counts) -> Mask:
        events, total = c[0], c[1]
        lo = poisson_lower(events, alpha_breach)
        return (total > 0) & ((lo >= limit * total) if inclusive else (lo > limit * total))

    def within(c: Counts) -> Mask:
        events, total = c[0], c[1]
        return (total > 0) & (poisson_upper(events, alpha) < limit * total)

    def above(c: Counts) -> Mask:
        events, total = c[0], c[1]
        return (total > 0) & ((events >= limit * total) if inclusive else (events > limit * total))

    return beyond, within, above


def ratio_tests(
    max_ratio: float, floor: float, alpha: float, alpha_breach: float = DEFAULT_ALPHA_BREACH
) -> tuple[Test, Test, Test]:
    """(beyond, within, above) for "new ratio > max_ratio x max(old ratio, floor)"; counts (e1, n1, e0, n0)."""

    def beyond(c: Counts) -> Mask:
        e1, n1, e0, n0 = c
        lo, _ = ratio_bounds(e1, n1, e0, n0, alpha_breach)
        return (n1 > 0) & (n0 > 0) & (lo > max_ratio) & (poisson_lower(e1, alpha_breach) > max_ratio * floor * n1)

    def within(c: Counts) -> Mask:
        e1, n1, e0, n0 = c
        _, hi = ratio_bounds(e1, n1, e0, n0, alpha)
        by_ratio = (n0 > 0) & (hi < max_ratio)
        by_floor = poisson_upper(e1, alpha) < max_ratio * floor * n1
        return (n1 > 0) & (by_ratio | by_floor)

    def above(c: Counts) -> Mask:
        e1, n1, e0, n0 = c
        with np.errstate(divide="ignore", invalid="ignore"):
            p1 = np.where(n1 > 0, e1 / np.where(n1 > 0, n1, 1), 0.0)
            p0 = np.where(n0 > 0, e0 / np.where(n0 > 0, n0, 1), 0.0)
        return (n1 > 0) & (n0 > 0) & (p1 > max_ratio * np.maximum(p0, floor))

    return beyond, within, above


# -- histograms -----------------------------------------------------------------------------------------
def histogram_quantile(q: Array | float, cum: Array, bounds: Array) -> Array:
    """Prometheus' ``histogram_quantile`` on cumulative bucket counts ``cum`` (..., B+1; last = +Inf)."""
    cum = np.asarray(cum, dtype=float)
    finite = np.asarray(bounds, dtype=float)
    total = cum[..., -1]
    rank = np.asarray(q, dtype=float) * total
    i = (cum < rank[..., None]).sum(axis=-1)
    i = np.minimum(i, cum.shape[-1] - 1)
    edges = np.concatenate([[0.0], finite, [np.inf]])
    lo_edge = edges[i]
    hi_edge = edges[i + 1]
    take = np.take_along_axis
    c_hi = take(cum, i[..., None], axis=-1)[..., 0]
    c_lo = np.where(i > 0, take(cum, np.maximum(i - 1, 0)[..., None], axis=-1)[..., 0], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(c_hi > c_lo, (rank - c_lo) / (c_hi - c_lo), 1.0)
        value = lo_edge + (hi_edge - lo_edge) * frac
    value = np.where(i >= len(finite), finite[-1], value)  # in the +Inf bucket: the last finite bound
    return np.where(total > 0, value, np.nan)


def count_at_or_below(x: Array | float, cum: Array, bounds: Array) -> Array:
    """Requests at or below latency ``x`` (seconds), interpolated inside a bucket like histogram_quantile."""
    cum = np.asarray(cum, dtype=float)
    finite = np.asarray(bounds, dtype=float)
    x = np.broadcast_to(np.asarray(x, dtype=float), cum.shape[:-1])
    i = np.searchsorted(finite, x, side="left")  # bucket (finite[i-1], finite[i]]
    inside = i < len(finite)
    ic = np.minimum(i, len(finite) - 1)
    take = np.take_along_axis
    c_hi = take(cum, ic[..., None], axis=-1)[..., 0]
    c_lo = np.where(ic > 0, take(cum, np.maximum(ic - 1, 0)[..., None], axis=-1)[..., 0], 0.0)
    lo_edge = np.where(ic > 0, finite[np.maximum(ic - 1, 0)], 0.0)
    hi_edge = finite[ic]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.clip((x - lo_edge) / (hi_edge - lo_edge), 0.0, 1.0)
    value = c_lo + (c_hi - c_lo) * frac
    return np.where(inside, value, cum[..., len(finite) - 1])


def slow_counts(cum: Array, bounds: Array, limit_s: float) -> Array:
    """Requests slower than ``limit_s``: "P95 > 500 ms" is "more than 5% of requests slower than 500 ms"."""
    return np.maximum(np.asarray(cum, dtype=float)[..., -1] - count_at_or_below(limit_s, cum, bounds), 0.0)


def latency_ratio_tests(
    q: float, max_ratio: float, floor_s: float, alpha: float, bounds: Array, alpha_breach: float = DEFAULT_ALPHA_BREACH
) -> tuple[Test, Test, Test]:
    """(beyond, within, above) for "new P_q > max_ratio x max(old P_q, floor)"; counts (cum_new, cum_old).

    The old quantile's own uncertainty is taken into account: beyond uses its upper bound, within its
    lower bound (the quantile at level ``q +- z sqrt(q (1-q) / n_old)``).
    """
    # ndtri is norm.ppf without importing scipy.stats (about 0.8 s on this machine)
    z = float(ndtri(1 - alpha))
    z_breach = float(ndtri(1 - alpha_breach))
    tail = 1.0 - q

    def _levels(n0: Array, zz: float) -> tuple[Array, Array]:
        with np.errstate(divide="ignore", invalid="ignore"):
            half = zz * np.sqrt(q * tail / np.where(n0 > 0, n0, 1.0))
        return np.clip(q + half, 0.0, 1.0), np.clip(q - half, 0.0, 1.0)

    def beyond(c: Counts) -> Mask:
        cum1, cum0 = c
        n1, n0 = cum1[..., -1], cum0[..., -1]
        hi_level, _ = _levels(n0, z_breach)
        old_hi = np.nan_to_num(histogram_quantile(hi_level, cum0, bounds), nan=np.inf)
        limit = max_ratio * np.maximum(old_hi, floor_s)
        slow = np.maximum(n1 - count_at_or_below(np.minimum(limit, 1e9), cum1, bounds), 0.0)
        return (n1 > 0) & (n0 > 0) & (poisson_lower(slow, alpha_breach) > tail * n1)

    def within(c: Counts) -> Mask:
        cum1, cum0 = c
        n1, n0 = cum1[..., -1], cum0[..., -1]
        _, lo_level = _levels(n0, z)
        old_lo = np.nan_to_num(histogram_quantile(lo_level, cum0, bounds), nan=0.0)
        limit = max_ratio * np.maximum(np.where(n0 > 0, old_lo, 0.0), floor_s)
        slow = np.maximum(n1 - count_at_or_below(limit, cum1, bounds), 0.0)
        return (n1 > 0) & (poisson_upper(slow, alpha) < tail * n1)

    def above(c: Counts) -> Mask:
        cum1, cum0 = c
        new = histogram_quantile(q, cum1, bounds)
        old = histogram_quantile(q, cum0, bounds)
        return np.nan_to_num(new, nan=0.0) > max_ratio * np.maximum(np.nan_to_num(old, nan=np.inf), floor_s)

    return beyond, within, above


# -- how much traffic it takes ---------------------------------------------------------------------------
def requests_needed(ratio: float, limit: float, alpha: float = DEFAULT_ALPHA) -> int | None:
    """Fewest requests at ``ratio`` whose upper bound is below ``limit``; None when ratio >= limit."""
    if not ratio < limit or limit <= 0:
        return None
    ratio = max(ratio, 0.0)

    def ok(n: float) -> bool:
        return float(poisson_upper(ratio * n, alpha)) < limit * n

    lo = 1.0
    hi = max(2.0, -math.log(alpha) / limit)
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > 1e13:
            return None
    for _ in range(60):
        mid = (lo + hi) / 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
        if hi - lo < 1:
            break
    return math.ceil(hi)


def decide(
    counts: Counts,
    missing: Mask,
    tests: tuple[Test, Test, Test],
    window_steps: int,
    sustain_steps: int,
    max_gap: int,
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The verdict of every row on complete data: (label, first breach step); label 2 FAIL, 1 INCONCLUSIVE,
    0 PASS. This is what the gates' rules decide (without the coverage and open-end checks)."""
    beyond, within, _ = tests
    found = sustained(counts, missing, beyond, within, window_steps, sustain_steps, max_gap)
    whole = pooled_tiles(counts, window_steps)
    clear = within(tuple(a[:, None] for a in whole))[:, 0]
    pending = beyond(tuple(a[:, -1:] for a in counts))[:, 0]  # clearly above at the end, not yet sustained
    label = np.where(found.first >= 0, 2, np.where(clear & ~pending, 0, 1))
    return label.astype(np.int64), found.first
