"""Packaging beyond what pyproject.toml can say: the top-level gate folders go into nova_gate.suite.

The checkout keeps ``checks/``, ``gates/``, ``smoke/`` and ``fixtures/`` at the top (``pytest -m
preflight`` there); the wheel ships them as ``nova_gate.suite.checks`` etc., so that ``pytest
--pyargs nova_gate.suite`` runs the same gates from any directory.
"""

from setuptools import find_packages, setup

SUITE = {f"nova_gate.suite.{name}": name for name in ("checks", "gates", "smoke", "fixtures")}

setup(
    packages=[*find_packages(include=["nova_gate", "nova_gate.*"]), *SUITE],
    package_dir=SUITE,
)
