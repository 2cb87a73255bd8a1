#!/usr/bin/env bash
# The self-tests: set up, bring the sandbox up, run unit tests and the pass/fail proofs of every
# check against the real servers. Exit 5 (no tests collected) is a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
PY="${NOVA_GATE_VENV:-.venv}/bin/python"  # made by setup.sh
"$PY" -m nova_gate.cli sandbox up || { "$PY" -m nova_gate.cli sandbox status; exit 1; }
"$PY" -m pytest tests -p no:cacheprovider -q -o addopts="" --strict-markers --timeout=600 "$@"
rc=$?
if [ "$rc" = 5 ]; then
  echo "selftest: no tests were collected — that is a failure" >&2
  rc=1
fi
exit "$rc"
