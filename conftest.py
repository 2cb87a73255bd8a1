"""Load the nova-gate pytest plugin and the backend fixtures; everything else lives in packages."""

pytest_plugins = ["nova_gate.plugin", "fixtures.backends"]
