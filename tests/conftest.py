"""Guard: the self-tests inject real faults into the sandbox, so they run only with the right rootdir."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_PYTEST_OWN = {"PYTEST_CURRENT_TEST"}  # pytest sets it per test phase


def pytest_configure(config: pytest.Config) -> None:
    if Path(config.rootpath).resolve() != ROOT:
        pytest.exit(
            f"nova-gate self-tests: pytest chose {config.rootpath} as rootdir instead of {ROOT} "
            "(an option value that is an existing path is taken for a test path: write --option=VALUE)",
            returncode=2,
        )


@pytest.fixture(autouse=True)
def _environment_unchanged() -> Iterator[None]:
    """Every self-test leaves the process environment as it found it. A variable a test left behind
    changes what the next test in the same worker sees (an AWS key in ``os.environ`` wins over a
    web-identity token in the credential chain), so the suite's verdicts would depend on the order
    xdist happens to pick. Only names are reported: values may be credentials."""
    before = {name: value for name, value in os.environ.items() if name not in _PYTEST_OWN}
    yield
    after = {name: value for name, value in os.environ.items() if name not in _PYTEST_OWN}
    if after == before:
        return
    changed = sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))
    for name in changed:
        if name in before:
            os.environ[name] = before[name]
        else:
            del os.environ[name]
    pytest.fail(f"the test left the environment changed: {', '.join(changed)} (use monkeypatch)", pytrace=False)
