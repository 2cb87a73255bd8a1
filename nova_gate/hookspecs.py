"""Hooks a host repository implements in its conftest.py to extend the gate."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookspec
def pytest_nova_gate_items(config: pytest.Config) -> list[Any] | None:
    """Extra checklist items of the host repository, judged and recorded like the built-in ones.

    Return a list of :class:`nova_gate.catalog.Item` or of mappings with ``id``, ``phase`` and
    ``text`` (optional: ``severity`` block|warn, ``section``, ``verification``, ``backends``,
    ``how``). Implement it in the rootdir's ``conftest.py`` (or one beside a test path given on the
    command line): the catalog is read before collection starts. An id that is already in the
    checklist, or a bad phase or severity, is bad input (exit 2).
    """
