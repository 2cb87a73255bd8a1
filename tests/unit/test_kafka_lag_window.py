"""MON-7 over the window (lag_over_window) on randomised noisy lag series: spikes against the group's
own baseline and the absolute 1000, growth, gaps and edges."""

from __future__ import annotations

import math
import random

import pytest

from nova_gate.backends.kafka.rules import LagSpikeRules, lag_over_window
from nova_gate.sandbox.history import poisson  # the backfill's own noise
from nova_gate.verdict import Label

STEP = 15.0
POINTS = 481  # 2 h at 15 s, both ends included
RULES = LagSpikeRules(step_s=STEP)
T0 = 1_800_000_000.0


def healthy(
    rng: random.Random, base: float, points: int = POINTS, blips: bool = True
) -> list[tuple[float, float | None]]:
    """A consuming group's lag: Poisson around its level, a slow wander of the level (traffic over
    the day) and now and then a one-scrape blip (a rebalance, a GC pause) of up to 3x."""
    level = base
    out: list[tuple[float, float | None]] = []
    for k in range(points):
        level = max(base * (1 + 0.3 * math.sin(k / 90 + rng.random() * 0.01)), 0.0)
        value = float(poisson(rng, level))
        if blips and rng.random() < 0.01:
            value *= rng.uniform(1.5, 3.0)
        out.append((T0 + k * STEP, value))
    return out


def judge(series, groups=("g",)):
    return lag_over_window({"g": series}, RULES, groups)


BASES = [0.0, 0.5, 3.0, 20.0, 80.0, 200.0]  # 200 x 1.3 wander x 3 blip stays under 1000


@pytest.mark.parametrize("base", BASES)
def test_healthy_noisy_groups_pass(base):
    rng = random.Random(f"healthy-{base}")
    labels = [judge(healthy(rng, base)).label for _ in range(60)]
    assert labels.count(Label.PASS) == len(labels), labels


@pytest.mark.parametrize("seed", range(40))
def test_a_spike_against_the_baseline_fails_below_the_absolute_limit(seed):
    rng = random.Random(seed)
    base = rng.choice(BASES)
    series = healthy(rng, base)
    # above the group's limit (3x its median, or +100 messages for a small one), under 1000
    height = min(max(3 * base, base + 100) * rng.uniform(1.2, 1.6) + 20, 960)
    width = rng.randint(2, 12)
    at = rng.randint(20, POINTS - width - 10)
    for k in range(at, at + width):
        series[k] = (series[k][0], float(poisson(rng, height)))
    verdict = judge(series)
    assert verdict.label is Label.FAIL, verdict.reason
    assert "spike" in verdict.reason


@pytest.mark.parametrize("seed", range(20))
def test_one_scrape_blip_below_the_limit_passes(seed):
    rng = random.Random(1000 + seed)
    series = healthy(rng, rng.choice(BASES))
    at = rng.randint(5, POINTS - 5)
    series[at] = (series[at][0], 900.0)
    assert judge(series).label is Label.PASS


@pytest.mark.parametrize("seed", range(20))
def test_absolute_limit_fails_even_for_one_sample(seed):
    rng = random.Random(2000 + seed)
    series = healthy(rng, rng.choice(BASES))
    at = rng.randint(0, POINTS - 1)
    series[at] = (series[at][0], 1000.0)  # "< 1000": exactly the limit fails
    verdict = judge(series)
    assert verdict.label is Label.FAIL
    assert ">= 1000" in verdict.reason


def test_a_high_baseline_is_judged_against_itself():
    """A group whose normal lag is 600 (wandering up to 780, under 1000) is healthy; +10 % is no spike."""
    rng = random.Random(7)
    series = healthy(rng, 600, blips=False)
    assert judge(series).label is Label.PASS
    bumped = [(t, v if v is None else v + 60) for t, v in series]
    assert judge(bumped).label is Label.PASS  # +10 %: no spike


@pytest.mark.parametrize("seed", range(20))
def test_lag_growing_over_the_window_fails(seed):
    rng = random.Random(3000 + seed)
    top = rng.uniform(250, 900)
    series = [(T0 + k * STEP, float(poisson(rng, 2 + top * k / POINTS))) for k in range(POINTS)]
    verdict = judge(series)
    assert verdict.label is Label.FAIL, verdict.reason


@pytest.mark.parametrize(
    ("seed", "missing", "named"),
    [
        # every other point missing: half the window, under the minimum coverage
        pytest.param(11, lambda k: k % 2 == 0, "50%", id="coverage-below-the-minimum"),
        # the last 10 points (150 s) missing: the data stopped before the window's end
        pytest.param(12, lambda k: k >= POINTS - 10, "last 150s", id="data-stops-before-the-end"),
    ],
)
def test_missing_data_is_inconclusive(seed, missing, named):
    rng = random.Random(seed)
    series = [(t, None if missing(k) else v) for k, (t, v) in enumerate(healthy(rng, 20))]
    verdict = judge(series)
    assert verdict.label is Label.INCONCLUSIVE
    assert named in verdict.reason


def test_a_short_gap_inside_a_spike_does_not_split_it():
    rng = random.Random(13)
    series = healthy(rng, 5)
    at = 200
    series[at] = (series[at][0], 400.0)
    for k in range(at + 1, at + 4):
        series[k] = (series[k][0], None)
    series[at + 4] = (series[at + 4][0], 420.0)
    assert judge(series).label is Label.FAIL
    # the same two points with a gap longer than max_gap_points are two blips
    series2 = healthy(random.Random(13), 5)
    series2[at] = (series2[at][0], 400.0)
    for k in range(at + 1, at + 7):
        series2[k] = (series2[k][0], None)
    series2[at + 7] = (series2[at + 7][0], 420.0)
    assert judge(series2).label is Label.PASS


def test_an_excursion_at_the_end_is_never_pass():
    rng = random.Random(14)
    series = healthy(rng, 5)
    series[-1] = (series[-1][0], 500.0)
    assert judge(series).label is Label.INCONCLUSIVE
    series[-2] = (series[-2][0], 480.0)
    assert judge(series).label is Label.FAIL
    # a spike that runs into missing data at the end
    series = healthy(rng, 5)
    series[-5] = (series[-5][0], 500.0)
    series[-4:] = [(t, None) for t, _ in series[-4:]]
    assert judge(series).label is Label.INCONCLUSIVE


def test_nan_counts_as_missing_and_missing_groups_are_inconclusive():
    rng = random.Random(15)
    series = [(t, math.nan) for t, _ in healthy(rng, 5)]
    assert judge(series).label is Label.INCONCLUSIVE
    verdict = lag_over_window({"g": healthy(rng, 5)}, RULES, ["g", "absent-consumer"])
    assert verdict.label is Label.INCONCLUSIVE
    assert "absent-consumer: no lag series" in verdict.reason
    assert lag_over_window({}, RULES, []).label is Label.INCONCLUSIVE


def test_reason_is_one_line_and_names_every_bad_group():
    rng = random.Random(16)
    data = {f"g{i}": healthy(rng, 5) for i in range(9)}
    for i in range(8):
        data[f"g{i}"][100] = (data[f"g{i}"][100][0], 2000.0)
    verdict = lag_over_window(data, RULES)
    assert verdict.label is Label.FAIL
    assert "\n" not in verdict.reason
    assert "and 2 more" in verdict.reason
