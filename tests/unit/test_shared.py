"""The per-session memo and bounded fan-out (nova_gate.shared), without servers."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

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


# -- PRE-INF-7: one Service list and one EndpointSlice list per namespace, however many services ------------
class _Gate:
    def __init__(self) -> None:
        self.evidence_seen: list[dict] = []
        self.verdict = None

    def evidence(self, **facts):
        self.evidence_seen.append(facts)

    def judge(self, verdict, **_):
        self.verdict = verdict
        return verdict


def _deployment(service: str, probe: bool):
    from nova_gate.backends.kubernetes.facts import deployment_facts

    container = {"name": service, "image": f"reg/{service}:v1"}
    if probe:
        container["readinessProbe"] = {"httpGet": {"path": "/ready", "port": 8080}}
    return deployment_facts(
        {
            "metadata": {"name": service, "labels": {"app": service}},
            "spec": {"template": {"spec": {"containers": [container]}}},
        }
    )


def _slice(service: str | None, ready: list[bool | None], i: int) -> dict:
    labels = {"kubernetes.io/service-name": service} if service else {}
    return {
        "metadata": {"name": f"{service or 'orphan'}-{i}", "labels": labels},
        "endpoints": [{"conditions": {} if r is None else {"ready": r}} for r in ready],
    }


class _ListedKube:
    """A KubernetesSource whose paginated lists answer from memory (the API server's label selector
    honoured), counting each list it is asked for."""

    def __new__(cls, deployments, services, slices):
        from kubernetes import client as kclient

        from nova_gate.backends.kubernetes.config import Kubernetes
        from nova_gate.backends.kubernetes.source import KubernetesSource

        class Listed(KubernetesSource):
            def _list(self, what, method, *args, **params):
                self.lists.append(what)
                with self.call(f"list {what}"):
                    pass
                if what.startswith("services"):
                    return iter([{"metadata": {"name": s}} for s in services])
                if what.startswith("endpointslices"):
                    key = params.get("label_selector")
                    return iter([s for s in slices if key in (s["metadata"]["labels"] or {})])
                raise AssertionError(what)

            def deployments(self, namespace, selector=None):
                self.lists.append(f"deployments {selector}")
                return deployments

        source = Listed(Kubernetes())
        source._client = kclient.ApiClient()
        source.lists = []
        return source


@pytest.mark.parametrize("n", [11, 110])
def test_readiness_and_endpoints_cost_three_lists_whatever_the_estate(n):
    from checks import test_kubernetes as checks

    rng = random.Random(n)
    services = [f"svc-{i}" for i in range(n)]
    probe = {s: rng.random() > 0.1 for s in services}
    exists = {s: rng.random() > 0.1 for s in services}
    slices, ready = [], {}
    for s in services:
        ready[s] = 0
        for i in range(rng.choice([0, 1, 1, 2, 3])):  # a Service may have no slice, or several
            states = [rng.choice([True, True, False, None]) for _ in range(rng.randint(0, 4))]
            ready[s] += sum(1 for r in states if r is not False)
            slices.append(_slice(s, states, i))
    slices += [_slice("other-svc", [True], 0), _slice(None, [True], 1)]  # another Service's, and an orphan
    rng.shuffle(slices)
    kube = _ListedKube([_deployment(s, probe[s]) for s in services], [s for s in services if exists[s]], slices)
    env = _Env(services)
    for s in services:
        gate = _Gate()
        checks.test_readiness_probe_and_endpoints(s, kube, env, gate)
        healthy = probe[s] and exists[s] and ready[s] > 0
        assert gate.verdict.label.name == ("PASS" if healthy else "FAIL"), (s, gate.verdict.reason)
        if exists[s] and probe[s] and not ready[s]:
            assert "no ready endpoints" in gate.verdict.reason
        if not exists[s]:
            assert f"Service {s} missing" in gate.verdict.reason
        assert gate.verdict.observed["ready_endpoints"] == (ready[s] if exists[s] else 0)
    assert sorted(kube.lists) == ["deployments app", "endpointslices nova-scaled", "services nova-scaled"]
    assert kube.calls == 2


def test_a_failed_namespace_list_fails_every_service_at_once_with_its_reason():
    from checks import test_kubernetes as checks

    services = [f"svc-{i}" for i in range(11)]
    kube = _ListedKube([_deployment(s, True) for s in services], services, [])
    kube._mark_down("", SourceError("kubernetes", "list services nova-scaled", ConnectionRefusedError(111, "refused")))
    env = _Env(services)
    reasons = set()
    for s in services:
        with pytest.raises(SourceError) as err:
            checks.test_readiness_probe_and_endpoints(s, kube, env, _Gate())
        reasons.add(str(err.value))
    assert len(reasons) == 1 and "not retried" in reasons.pop()
    assert kube.lists == ["deployments app", "services nova-scaled"]  # asked once, remembered


# -- P24-2: the day's histograms of every service in the same three queries, 11 or 110 services -------------
class _FakeProm:
    def __init__(self, services, rng):
        self.services, self.rng, self.asked = services, rng, []

    def range_by(self, query, start, end, step, by):
        self.asked.append(("range", query))
        return {("v1.0.0",): [(start + 3600, 1.0), (end, 1.0)]}

    def instant_by(self, query, at, by):
        self.asked.append(("instant", at))
        out = {}
        for s in self.services:
            for v in ("v1.0.0", "v0.9.0"):
                total = 0.0
                for le in ("0.05", "0.1", "0.25", "0.5", "+Inf"):
                    total += self.rng.randint(20, 400)
                    out[(s, v, le)] = total
        return out


@pytest.mark.parametrize("n", [11, 110])
def test_percentiles_vs_previous_version_three_queries_whatever_the_estate(n):
    from gates import test_review_metrics as review
    from nova_gate.config import load_environment

    env = load_environment(Path(__file__).resolve().parents[2] / "environments" / "sandbox.yaml").env
    services = [f"svc-{i}" for i in range(n)]
    prom = _FakeProm(services, random.Random(n))

    class _Windows:
        end = 1_800_000_000.0

    labels = set()
    for s in services:
        gate = _Gate()
        review.test_percentiles_vs_previous_version(s, _Windows(), prom, env, gate)
        labels.add(gate.verdict.label.name)
        assert f"P50 of {s} " in str(gate.verdict.details)  # each service judged on its own share
    assert len(prom.asked) == 3 and [a[0] for a in prom.asked] == ["range", "instant", "instant"]
    assert labels <= {"PASS", "WARN"}


# -- the smoke flow on an estate of numbered services, the HTTP probe per endpoint ---------------------------
def test_find_service_takes_the_exact_name_else_the_lowest_numbered_instance():
    from nova_gate.backends.http.source import find_service
    from nova_gate.config import Release, Service

    def release(*names):
        return Release(
            version="v1",
            baseline_version="v0",
            base_url="http://127.0.0.1:{port}",
            services=[Service(name=n, port=1000 + i) for i, n in enumerate(names)],
        )

    assert find_service(release("auth-service-1", "auth-service"), "auth-service") == "auth-service"
    assert find_service(release("auth-service-10", "auth-service-2"), "auth-service") == "auth-service-2"
    assert find_service(release("feed-service-0"), "auth-service", "feed-service") == "feed-service-0"
    for names in (("auth-service-x",), ("auth-service-canary",), ("auth-services-0",)):
        with pytest.raises(SourceError, match="none of the services auth-service"):
            find_service(release(*names), "auth-service")


def test_http_probe_asks_one_service_per_endpoint():
    from nova_gate.backends.http.source import HttpSource
    from nova_gate.config import Release, Service
    from nova_gate.probe import probe

    services = [Service(name=f"svc-{i}", port=2000 + i % 11) for i in range(110)]
    release = Release(version="v1", baseline_version="v0", base_url="http://127.0.0.1:{port}", services=services)
    asked = []

    def health(service):
        asked.append(service)
        raise SourceError("http", f"GET {service} health", "refused")

    source = HttpSource(release)
    source.health = health  # type: ignore[method-assign]
    probe(source)
    assert len(asked) == 11 and len({s.port for s in services if s.name in asked}) == 11
