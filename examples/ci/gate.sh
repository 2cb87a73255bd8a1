#!/usr/bin/env bash
# Run one phase's gate in CI and publish its decision for the pipeline to branch on.
#   bash examples/ci/gate.sh PHASE [pytest options...]
# Writes the audit record to reports/PHASE/, the decision (PROCEED, STOP, ROLLBACK or ERROR) to
# reports/PHASE/DECISION and, on GitHub Actions, to the step output "decision".
# Exit 0 only for PROCEED. Fail closed: no decision file, or a decision that contradicts pytest's
# exit code, is ERROR.
set -uo pipefail
phase=${1:?usage: gate.sh PHASE [pytest options...]}
shift
py=${PYTHON:-python3}
dir=${NOVA_GATE_REPORTS_ROOT:-reports}/$phase
mkdir -p "$dir"
rm -f "$dir/decision.json" "$dir/DECISION"
"$py" -m pytest -m "$phase" --reports-dir="$dir" "$@"
rc=$?
decision=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["decision"])' "$dir/decision.json" 2>/dev/null) \
  || decision=ERROR
case "$decision" in PROCEED | STOP | ROLLBACK) ;; *) decision=ERROR ;; esac
if { [ "$rc" -eq 0 ] && [ "$decision" != PROCEED ]; } || { [ "$rc" -ne 0 ] && [ "$decision" = PROCEED ]; }; then
  decision=ERROR
fi
echo "$decision" >"$dir/DECISION"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "decision=$decision" >>"$GITHUB_OUTPUT"
fi
echo "nova-gate: $phase decided $decision (pytest exit $rc); record in $dir/"
[ "$decision" = PROCEED ]
