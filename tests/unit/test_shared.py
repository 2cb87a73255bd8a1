"""The per-session memo and bounded fan-out (nova_gate.shared), without servers."""

from __future__ import annotations

import random
import threading
import time

import pytest

from nova_gate.backends.base import Source, SourceError
from nova_gate.shared import SessionMemo, fetch_each, group_by, memo, value_of


class _Fake(Source):
    backend = "fake"


def test_one_fetch_per_key_whatever_the_number_of_readers():
    m = SessionMemo()
    calls = []

    def fetch():
        calls.append(1)
        return {"a": [1], "b": [2]}

    for _ in range(110):
        assert m.get(("deployments", "ns"), fetch)["a"] == [1]
    assert len(calls) == 1 and m.fetches == 1
    m.get(("deployments", "other"), fetch)
    assert len(calls) == 2


def test_concurrent_readers_share_one_fetch():
    m = SessionMemo()
    calls = []
    start = threading.Barrier(16)

    def fetch():
        calls.append(1)
        time.sleep(0.05)
        return 42

    def reader(out: list[int]) -> None:
        start.wait()
        out.append(m.get("k", fetch))

    out: list[int] = []
    threads = [threading.Thread(target=reader, args=(out,)) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert out == [42] * 16 and len(calls) == 1


def test_a_failed_fetch_is_remembered_and_raised_to_every_reader():
    m = SessionMemo()
    calls = []

    def fetch():
        calls.append(1)
        raise SourceError("kubernetes", "list pods", TimeoutError("timed out"))

    errors = []
    for _ in range(5):
        with pytest.raises(SourceError) as info:
            m.get("pods", fetch)
        errors.append(info.value)
    assert len(calls) == 1
    assert {str(e) for e in errors} == {"kubernetes: list pods: timed out"}
    assert len({id(e) for e in errors}) == 5  # a fresh copy per test: tracebacks never pile up
    assert all(e.unreachable for e in errors)


def test_other_errors_are_not_swallowed():
    m = SessionMemo()
    with pytest.raises(ZeroDivisionError):
        m.get("x", lambda: 1 / 0)


def test_memo_belongs_to_its_source_and_goes_with_it():
    a, b = _Fake(), _Fake()
    assert memo(a) is memo(a)
    assert memo(a) is not memo(b)
    memo(a).get("k", lambda: 1)
    assert "k" in memo(a) and "k" not in memo(b)


def test_group_by_keeps_order_and_drops_unkeyed():
    rng = random.Random(16)
    items = [(rng.choice(["a", "b", "c", None]), i) for i in range(500)]
    grouped = group_by(items, lambda it: it[0])
    assert set(grouped) <= {"a", "b", "c"}
    for k, members in grouped.items():
        assert members == [it for it in items if it[0] == k]
    assert sum(map(len, grouped.values())) == sum(1 for it in items if it[0] is not None)


def test_fetch_each_is_bounded_and_keeps_each_keys_error():
    live = peak = 0
    lock = threading.Lock()

    def fetch(key: int) -> int:
        nonlocal live, peak
        with lock:
            live += 1
            peak = max(peak, live)
        time.sleep(0.01)
        with lock:
            live -= 1
        if key % 7 == 3:
            raise SourceError("http", f"GET svc-{key} health", ConnectionRefusedError("connection refused"))
        return key * 2

    keys = [*range(110), 5, 5]  # duplicates asked once
    out = fetch_each(keys, fetch, max_workers=4)
    assert set(out) == set(range(110))
    assert 1 < peak <= 4
    for k in range(110):
        if k % 7 == 3:
            with pytest.raises(SourceError, match=f"svc-{k} health"):
                value_of(out, k)
        else:
            assert value_of(out, k) == k * 2
    with pytest.raises(KeyError):
        value_of(out, 999)


def test_fetch_each_serial_when_bound_is_one():
    seen = []
    fetch_each([3, 1, 2], lambda k: seen.append(threading.current_thread().name) or k, max_workers=1)
    assert len(set(seen)) == 1


# -- the checks' shared fetches: one call per kind and selector whatever the number of services ----------
class _Labelled:
    def __init__(self, app: str, version: str, name: str) -> None:
        self.labels = {"app": app, "version": version}
        self.name = name
        self.deleting = False


class _FakeKube:
    def __init__(self, services: list[str]) -> None:
        self.services = services
        self.calls: list[tuple[str, str | None]] = []

    def pods(self, namespace, selector=None, field=None):
        self.calls.append(("pods", selector))
        want_version = None
        if selector and "version=" in selector:
            want_version = selector.split("version=")[1]
        for i, s in enumerate(self.services):
            for v in ("v0.9.0", "v1.0.0"):
                if want_version in (None, v):
                    yield _Labelled(s, v, f"{s}-{v}-{i}")

    def deployments(self, namespace, selector=None):
        self.calls.append(("deployments", selector))
        return [_Labelled(s, "v0.9.0", f"{s}-v0.9.0") for s in self.services]

    def pod_log(self, namespace, pod, container):
        self.calls.append(("log", pod))
        return f"log of {pod}"


class _Env:
    def __init__(self, services: list[str]) -> None:
        self.service_names = services

        class _Rel:
            namespace = "nova-scaled"
            version = "v1.0.0"
            baseline_version = "v0.9.0"

        self.release = _Rel()


@pytest.mark.parametrize("n", [11, 110])
def test_cluster_facts_cost_one_list_per_selector_whatever_the_estate(n):
    from gates import test_rollout as rollout

    services = [f"svc-{i}" for i in range(n)]
    kube, env = _FakeKube(services), _Env(services)
    for s in services:
        assert [p.labels["version"] for p in rollout._canary(kube, env, s)] == ["v1.0.0"]
        assert len(rollout._pods(kube, env, s)) == 2
        assert [d.name for d in rollout._deployments(kube, env, s)] == [f"{s}-v0.9.0"]
    assert sorted(kube.calls) == [("deployments", "app"), ("pods", "app"), ("pods", "app,version=v1.0.0")]
    logs = rollout._canary_logs(kube, env)
    assert len(logs) == n and sum(1 for c in kube.calls if c[0] == "log") == n  # one log per canary pod
    rollout._canary_logs(kube, env)
    assert sum(1 for c in kube.calls if c[0] == "log") == n
