"""Search cluster (Elasticsearch 7.17/8/9 or OpenSearch 2) index health, via the transport layer."""

import pytest

from nova_gate.backends.search.rules import indices_healthy


@pytest.mark.item("PRE-INF-6")
def test_no_red_index(search, env, gate):
    indices = search.indices()
    unassigned = search.unassigned_shards()
    gate.evidence(source="search", call="_cat/indices + _cat/shards", indices=len(indices), unassigned=len(unassigned))
    gate.judge(indices_healthy(indices, unassigned, env.expectations.search_indices))
