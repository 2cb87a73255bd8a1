"""nova-gate: the Nova backend deployment checklist made executable."""

__version__ = "0.1.0"
