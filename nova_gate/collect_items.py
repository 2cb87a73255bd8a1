"""A tiny pytest plugin for ``nova-gate items``: print which test nodes carry which item."""

from __future__ import annotations

import json

import pytest


def pytest_collection_finish(session: pytest.Session) -> None:
    from nova_gate.plugin import item_ids  # imported late: the plugin is registered by conftest

    nodes: dict[str, list[str]] = {}
    for node in session.items:
        for item_id in item_ids(node):
            nodes.setdefault(item_id, []).append(node.nodeid)
    print("NOVA-ITEMS " + json.dumps(nodes))
