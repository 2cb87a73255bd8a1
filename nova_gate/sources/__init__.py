"""Sources fetch facts from one backend each; they never judge. Driver errors become SourceError."""

from nova_gate.sources.base import Source, SourceError

__all__ = ["Source", "SourceError"]
