"""The session fixtures of the registered backends, made by one factory from the registry table.

Each fixture is lazy (the source connects on first use), registered with the run (call counts, fail
fast) and closed at the end of the session. A backend field that the environment leaves empty makes
the fixture raise SourceError, which the plugin turns into a one-line FAIL: never a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from nova_gate.backends import BACKENDS, RELEASE, Backend
from nova_gate.backends.base import Source, SourceError


def backend_config(env: Any, backend: Backend, fld: str) -> Any:
    """The config a fixture's source is built from; SourceError when the environment has none."""
    cfg = env.release if fld == RELEASE else getattr(env.backends, fld)
    if cfg is None:
        raise SourceError(backend.name, f"backends.{fld} is not configured in this environment")
    return cfg


def make_fixture(name: str, backend: Backend, fld: str) -> Any:
    """One session fixture ``name``: the backend's source over the environment's ``fld``."""

    def fixture(pytestconfig: pytest.Config, nova_env: Any) -> Iterator[Source]:
        from nova_gate.plugin import register_source

        source: Source = backend.source_class()(backend_config(nova_env, backend, fld))
        register_source(pytestconfig, source)
        yield source
        source.close()

    fixture.__name__ = fixture.__qualname__ = name
    fixture.__doc__ = f"{backend.doc} (``backends.{fld}``)." if fld != RELEASE else f"{backend.doc}."
    made: Callable[..., Any] = pytest.fixture(scope="session", name=name)(fixture)
    return made


def backend_fixtures() -> dict[str, Any]:
    """Every registered backend's session fixtures, by name (for a plugin module's globals)."""
    return {name: make_fixture(name, b, fld) for b in BACKENDS.values() for name, fld in b.fixtures.items()}


#: the fixtures that are backend sources, probed together before the first test (fail fast)
PROBED_FIXTURES: tuple[str, ...] = tuple(name for b in BACKENDS.values() for name in b.fixtures)


#: where nothing listens on the sandbox machine (the discard port)
CLOSED_HOST, CLOSED_PORT = "127.0.0.1", 9


def unreachable_overrides(document: dict[str, Any]) -> dict[str, Any]:
    """Dotted environment keys that point every configured backend field at a closed port (or a
    missing file), derived from each registered config model's fields; for the fail-closed proofs."""
    from pathlib import Path
    from urllib.parse import urlsplit

    out: dict[str, Any] = {}
    configured = document.get("backends") or {}
    for backend in BACKENDS.values():
        model = backend.config_model()
        for fld in backend.fields:
            if fld not in configured:
                continue
            for name, info in model.model_fields.items():
                key, annotation = f"backends.{fld}.{name}", str(info.annotation)
                if name in ("url", "endpoint"):
                    url = urlsplit(str(configured[fld].get(name, "http://x")))
                    out[key] = f"{url.scheme or 'http'}://{CLOSED_HOST}:{CLOSED_PORT}{url.path}"
                elif name == "port":
                    out[key] = CLOSED_PORT
                elif name in ("cluster_nodes", "bootstrap_servers"):
                    out[key] = [f"{CLOSED_HOST}:{CLOSED_PORT}"]
                elif name == "replicas" and "Replica" in annotation:
                    out[key] = [{"name": "closed", "host": CLOSED_HOST, "port": CLOSED_PORT}]
                elif "Path" in annotation and name in configured[fld]:
                    out[key] = str(Path("/nonexistent") / name)
    return out
