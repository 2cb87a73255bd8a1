"""The gates as an installed package: ``pytest --pyargs nova_gate.suite -m preflight --env=prod.yaml``.

In the wheel, the checkout's top-level ``checks/``, ``gates/``, ``smoke/`` and ``fixtures/`` are
mapped into this package (``setup.py``), so the same files run from a checkout (``pytest -m
preflight``) and from any directory with the wheel installed. A host repository loads the backend
fixtures for its own checks with ``pytest_plugins = nova_gate.suite.FIXTURE_PLUGINS`` in its conftest.
"""

#: the modules that define the backend fixtures (``nova_env``, ``nova_kafka``, ``postgres``, ...)
FIXTURE_PLUGINS = ["nova_gate.suite.fixtures.backends"]
