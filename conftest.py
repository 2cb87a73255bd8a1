"""Load the nova-gate pytest plugin; everything else lives in the package."""

pytest_plugins = ["nova_gate.plugin"]
