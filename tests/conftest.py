"""Guard: the self-tests inject real faults into the sandbox, so they run only with the right rootdir."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    if Path(config.rootpath).resolve() != ROOT:
        pytest.exit(
            f"nova-gate self-tests: pytest chose {config.rootpath} as rootdir instead of {ROOT} "
            "(an option value that is an existing path is taken for a test path: write --option=VALUE)",
            returncode=2,
        )
