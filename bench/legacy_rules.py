"""The metric rules as they were before issue 10, kept callable for bench/judgment.py's comparison only.

``for_5m`` is the vectorised form of the old ``sustained_breach`` on complete data (and of Prometheus'
``for: 5m``): a breach needs every sample of a 5-minute span beyond the limit, so any one sample at or
below it restarts the clock. The old gate judged errors on a 1-minute rate (``window_sum(x, 4)`` at a
15-s step), percentiles and new-vs-old ratios on the 5-minute rate.
"""

from __future__ import annotations

import numpy as np


def window_sum(inc: np.ndarray, width: int) -> np.ndarray:
    """Sliding sums of ``width`` steps along axis 1 (the first ``width - 1`` steps are partial)."""
    c = np.cumsum(inc, axis=1)
    shifted = np.zeros_like(c)
    shifted[:, width:] = c[:, :-width]
    return c - shifted


def for_5m(beyond: np.ndarray, sustain_steps: int) -> np.ndarray:
    """First step at which ``beyond`` has held for ``sustain_steps`` steps in a row (-1: never), per row."""
    steps = beyond.shape[1]
    idx = np.arange(steps)
    last_false = np.maximum.accumulate(np.where(~beyond, idx, -1), axis=1)
    fired = beyond & (idx - last_false > sustain_steps)
    return np.where(fired.any(axis=1), fired.argmax(axis=1), -1)
