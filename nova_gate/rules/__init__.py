"""Pure rules: facts in, verdicts out; no I/O."""
