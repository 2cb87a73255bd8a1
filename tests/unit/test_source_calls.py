"""A source's call count is exact when its calls fan out over a thread pool (as the probes and the
per-service checks do)."""

from __future__ import annotations

import concurrent.futures
import random

from nova_gate.backends.base import Source


def test_calls_from_many_threads_are_all_counted() -> None:
    rng = random.Random(11)
    per_thread = [rng.randint(200, 3000) for _ in range(12)]
    source = Source()
    source.backend = "counted"

    def work(n: int) -> None:
        for i in range(n):
            with source.call(f"call {i} to 127.0.0.1:{1 + i % 7}"):
                pass

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, per_thread))
    assert source.calls == sum(per_thread)
    assert repr(source) == f"<Source calls={sum(per_thread)}>"
