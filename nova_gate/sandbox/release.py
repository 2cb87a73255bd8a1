"""The simulated release repository: a git repo with tags v0.9.0 and v1.0.0, docs and migrations.

Made from the committed ``sandbox/release`` into ``.sandbox/release`` so that faults may edit it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nova_gate.sandbox.base import Component, Fault, Health, run, sandbox_data_dir

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Nova Release Bot", "GIT_AUTHOR_EMAIL": "release@nova.invalid",
    "GIT_COMMITTER_NAME": "Nova Release Bot", "GIT_COMMITTER_EMAIL": "release@nova.invalid",
}


class Release(Component):
    name = "release"

    @property
    def repo(self) -> Path:
        return self.root / "release"

    def git(self, *args: str) -> str:
        import os

        return run(["git", "-C", str(self.repo), *args], env={**os.environ, **GIT_ENV}, timeout=60)

    def start(self) -> None:
        if (self.repo / ".git").exists():
            return
        src = sandbox_data_dir() / "release"
        self.repo.mkdir(parents=True, exist_ok=True)
        run(["git", "init", "-q", "-b", "main", str(self.repo)])
        # v0.9.0: the baseline without this release's notes and spec bump
        shutil.copytree(src, self.repo, dirs_exist_ok=True)
        for path in (self.repo / "docs" / "release-notes" / "v1.0.0.md",):
            path.unlink()
        for spec in (self.repo / "openapi").glob("*.yaml"):
            spec.write_text(spec.read_text().replace("version: 1.0.0", "version: 0.9.0"))
        self.git("add", "-A")
        self.git("commit", "-qm", "Release v0.9.0")
        self.git("tag", "v0.9.0")
        shutil.copytree(src, self.repo, dirs_exist_ok=True)
        self.git("add", "-A")
        self.git("commit", "-qm", "Release v1.0.0")
        self.git("tag", "v1.0.0")

    def stop(self) -> None:
        """Nothing runs; the repository stays."""

    def health(self) -> Health:
        ok = (self.repo / ".git").exists()
        return Health(ok, str(self.repo), [], "" if ok else "not created")

    def faults(self) -> list[Fault]:
        def drop_tag() -> None:
            self.git("tag", "-d", "v1.0.0")

        def restore_tag() -> None:
            if "v1.0.0" not in self.git("tag").split():
                self.git("tag", "v1.0.0", "HEAD")

        tmp = self.repo / "migrations" / "20261120000000_tmp_backfill.sql.tmp"
        notes = self.repo / "docs" / "release-notes" / "v1.0.0.md"
        saved = self.root / "release-notes.saved"

        def hide_notes() -> None:
            if notes.exists():
                saved.write_text(notes.read_text())
                notes.unlink()

        def restore_notes() -> None:
            if saved.exists():
                notes.write_text(saved.read_text())
                saved.unlink()

        return [
            Fault("release-tag-missing", "git tag v1.0.0 deleted from the release repository",
                  ("P24-11",), drop_tag, restore_tag, self.name),
            Fault("release-notes-missing", "release notes for v1.0.0 removed", ("PRE-DOC-1",),
                  hide_notes, restore_notes, self.name),
            Fault("migration-temp-file", "a temporary migration file left in migrations/", ("P24-12",),
                  lambda: tmp.write_text("-- scratch\n"), lambda: tmp.unlink(missing_ok=True), self.name),
        ]
