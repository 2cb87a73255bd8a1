"""Benchmark: list 10,000 pods page by page (the gate's way) vs one unpaginated list.

    python bench/kube_pagination.py [--pods 10000] [--page-size 500]

Creates the pods in a throwaway namespace of the sandbox cluster (plain Pod objects with a
scheduler name nobody serves, so they stay Pending and cost no node), lists them with
KubernetesSource (``limit`` + ``continue``, reduced to small facts page by page) and with a single
``limit=0`` list, printing wall time, API calls and peak Python memory (tracemalloc) of each, then
deletes the namespace. Speed and memory are measured here, never asserted in a timed test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nova_gate.backends.kubernetes.source import KubernetesSource  # noqa: E402
from nova_gate.config import Kubernetes  # noqa: E402
from nova_gate.sandbox.base import state_dir  # noqa: E402

NAMESPACE = "nova-bench-pagination"


def _pod(i: int) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": f"bench-{i:05d}", "labels": {"app": "bench", "version": "v1.0.0", "shard": str(i % 10)}},
        "spec": {
            "schedulerName": "nova-bench-unserved",
            "containers": [
                {
                    "name": "app",
                    "image": "127.0.0.1:55000/nova-bench:v1.0.0",
                    "env": [{"name": "RUST_LOG", "value": "info"}, {"name": "DB_POOL_SIZE", "value": "5"}],
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ],
        },
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=10_000)
    ap.add_argument("--page-size", type=int, default=500)
    ap.add_argument("--keep", action="store_true", help="do not delete the namespace afterwards")
    args = ap.parse_args()
    kubeconfig = state_dir() / "kube" / "kubeconfig"
    src = KubernetesSource(Kubernetes(kubeconfig=kubeconfig, timeout_s=60, page_size=args.page_size))
    from kubernetes import client as kclient
    from kubernetes.client.exceptions import ApiException

    core = kclient.CoreV1Api(src._api())
    try:
        core.create_namespace({"metadata": {"name": NAMESPACE}}, _request_timeout=30)
    except ApiException as exc:
        if exc.status != 409:
            raise
    try:
        existing = sum(1 for _ in src.pods(NAMESPACE))
        t0 = time.monotonic()

        def create(i: int) -> None:
            for _attempt in range(5):  # bounded: a 429/5xx under load is retried a few times
                try:
                    core.create_namespaced_pod(NAMESPACE, _pod(i), _request_timeout=60)
                    return
                except ApiException as exc:
                    if exc.status == 409:
                        return
                    time.sleep(0.5)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(create, range(existing, args.pods)))
        print(f"created {args.pods - existing} pods in {time.monotonic() - t0:.1f}s ({existing} already there)")

        # paginated and streamed: the gate's way
        calls0, pages0 = src.calls, src.pages
        tracemalloc.start()
        t0 = time.monotonic()
        count = cpu = 0
        for p in src.pods(NAMESPACE, "app=bench"):
            count += 1
            cpu += p.cpu_request_m
        wall = time.monotonic() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(
            f"paginated   (limit={args.page_size}): {count} pods, {src.calls - calls0} API calls "
            f"({src.pages - pages0} pages), {wall:.2f}s, peak {peak / 2**20:.1f} MiB"
        )

        # one unpaginated list (limit=0): the whole list in memory at once
        tracemalloc.start()
        t0 = time.monotonic()
        resp = core.list_namespaced_pod(
            NAMESPACE, label_selector="app=bench", _preload_content=False, _request_timeout=120
        )
        body = json.loads(resp.data)
        resp.release_conn()
        items = body["items"]
        wall = time.monotonic() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"unpaginated (limit=0):   {len(items)} pods, 1 API call, {wall:.2f}s, peak {peak / 2**20:.1f} MiB")
        del body, items
    finally:
        if not args.keep:
            t0 = time.monotonic()
            core.delete_namespace(NAMESPACE, _request_timeout=60)
            for _ in range(240):  # bounded wait for the namespace controller
                try:
                    core.read_namespace(NAMESPACE, _request_timeout=10)
                except ApiException as exc:
                    if exc.status == 404:
                        break
                time.sleep(0.5)
            print(f"deleted namespace {NAMESPACE} in {time.monotonic() - t0:.1f}s")
        src.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
