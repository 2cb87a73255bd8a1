"""Sources that read no backend service: the release repository on disk, the code-quality commands
and the audit records. Backend sources live in ``nova_gate.backends.<name>.source``; all derive from
``nova_gate.backends.base.Source`` (facts only; driver errors become SourceError)."""
