#!/usr/bin/env bash
# The main job: set up, bring the sandbox up, walk every phase of the release against it,
# and leave the audit record (HTML, JUnit, evidence, decision) in reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PY="${NOVA_GATE_VENV:-.venv}/bin/python"  # made by setup.sh
"$PY" -m nova_gate.cli sandbox up
"$PY" -m nova_gate.cli rehearse --keep-going "$@"
