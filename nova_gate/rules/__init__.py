"""Rules that belong to no one backend: files, commands, records, attestations, secrets stores, and the
shared metric evaluator (metrics.py, counts.py). Backend rules live in ``nova_gate.backends.<name>``."""
