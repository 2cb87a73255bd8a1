"""Start-up stays small: collecting the gates imports no heavy client and touches no backend.

Structural, not timed: a probe plugin records every socket connection attempted and which heavy
modules are in ``sys.modules`` when collection finishes (``python -X importtime`` in the README's
benchmark section shows what they cost).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: clients a phase imports only when one of its tests runs (each costs 0.1-0.8 s to import here)
HEAVY = (
    "elastic_transport",
    "kubernetes",
    "kafka",
    "clickhouse_connect",
    "psycopg",
    "redis",
    "scipy",
    "numpy",
    "starlette",
    "uvicorn",
    "boto3",
    "chdb",
)

_PROBE = """
import json, os, socket, sys

_connects = []


def _connect(self, address):
    _connects.append(repr(address))
    raise OSError("startup probe: no backend connection at collection time")


socket.socket.connect = _connect
socket.socket.connect_ex = _connect


def pytest_collection_finish(session):
    heavy = os.environ["STARTUP_PROBE_HEAVY"].split(",")
    with open(os.environ["STARTUP_PROBE_OUT"], "w") as f:
        json.dump({"heavy": sorted(m for m in heavy if m in sys.modules), "connects": _connects,
                   "items": len(session.items)}, f)
"""


def test_collection_imports_no_heavy_client_and_connects_nowhere(tmp_path: Path) -> None:
    (tmp_path / "startup_probe.py").write_text(_PROBE)
    out = tmp_path / "out.json"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "STARTUP_PROBE_OUT": str(out),
        "STARTUP_PROBE_HEAVY": ",".join(HEAVY),
    }
    # every phase at once: all gate modules are imported whatever -m selects
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "startup_probe", "-p", "no:cacheprovider", "--collect-only",
         "--env=sandbox", "-m", " or ".join(_phases())],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    seen = json.loads(out.read_text())
    assert seen["items"] > 300
    assert seen["connects"] == []
    assert seen["heavy"] == []


def _phases() -> list[str]:
    from nova_gate.catalog import PHASES

    return list(PHASES)
