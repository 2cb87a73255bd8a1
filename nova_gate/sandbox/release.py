"""The simulated release repository: a git repo with tags v0.9.0 and v1.0.0, docs and migrations.

Made from the committed ``sandbox/release`` into ``.sandbox/release`` so that faults may edit it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nova_gate.sandbox.base import Component, Fault, Health, build_log, cache_dir, run, run_logged, sandbox_data_dir

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Nova Release Bot",
    "GIT_AUTHOR_EMAIL": "release@nova.invalid",
    "GIT_COMMITTER_NAME": "Nova Release Bot",
    "GIT_COMMITTER_EMAIL": "release@nova.invalid",
}


ADVISORY = """```toml
[advisory]
id = "{id}"
package = "{package}"
date = "2026-01-15"
url = "https://nova.invalid/advisories/{id}"
categories = ["denial-of-service"]

[versions]
patched = ["{patched}"]
```

# Unbounded allocation in {package}

A stand-in advisory of the sandbox's local RustSec advisory database.
"""


class Release(Component):
    name = "release"

    def install(self) -> None:
        """cargo-audit for PRE-CQ-5, built once into the cache (several minutes on 2 cores)."""
        root = cache_dir() / "cargo"
        if not (root / "bin" / "cargo-audit").exists():
            run_logged(
                ["cargo", "install", "cargo-audit", "--locked", "--root", str(root)],
                "release: building cargo-audit with cargo (about 9 min cold)",
                build_log("cargo-audit"),
                timeout=3600,
            )

    @property
    def advisory_db(self) -> Path:
        return self.root / "advisory-db"

    def _advisory(self, package: str, adv_id: str, patched: str, present: bool) -> None:
        path = self.advisory_db / "crates" / package / f"{adv_id}.md"
        if present:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(ADVISORY.format(id=adv_id, package=package, patched=patched))
        elif path.exists():
            path.unlink()
        else:
            return
        import os

        env = {**os.environ, **GIT_ENV}
        run(["git", "-C", str(self.advisory_db), "add", "-A"], env=env)
        run(
            [
                "git",
                "-C",
                str(self.advisory_db),
                "commit",
                "-qm",
                f"{adv_id} {'added' if present else 'removed'}",
                "--allow-empty",
            ],
            env=env,
        )

    @property
    def repo(self) -> Path:
        return self.root / "release"

    def git(self, *args: str) -> str:
        import os

        return run(["git", "-C", str(self.repo), *args], env={**os.environ, **GIT_ENV}, timeout=60)

    def start(self) -> None:
        if not (self.advisory_db / ".git").exists():
            run(["git", "init", "-q", "-b", "main", str(self.advisory_db)])
            self._advisory("nova-example", "RUSTSEC-2026-9001", ">= 1.0.1", present=True)
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

    def snapshot(self) -> dict[str, Any]:
        """Refs (tags, branches) and their commits, the work tree against HEAD (modified, untracked
        and their contents), the advisory database's tree, the faults' saved copies."""
        import hashlib

        status = self.git("status", "--porcelain", "--untracked-files=all")
        untracked = sorted(line[3:] for line in status.splitlines() if line.startswith("??"))
        adb = ["git", "-C", str(self.advisory_db)]
        return {
            **super().snapshot(),
            "refs": self.git("for-each-ref", "--format=%(refname) %(objectname)").splitlines(),
            "status": status.splitlines(),
            "diff": hashlib.sha256(self.git("diff", "HEAD", "--binary").encode()).hexdigest(),
            "untracked": {p: hashlib.sha256((self.repo / p).read_bytes()).hexdigest() for p in untracked},
            "advisory_tree": run([*adb, "rev-parse", "HEAD^{tree}"]).strip(),
            "advisory_status": run([*adb, "status", "--porcelain", "--untracked-files=all"]).splitlines(),
            "saved": sorted(p.name for p in self.root.glob("*.saved")),
        }

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

        def edit(path: Path, old: str, new: str) -> Callable[[], None]:
            def apply() -> None:
                path.write_text(path.read_text().replace(old, new))

            return apply

        changelog = self.repo / "CHANGELOG.md"
        rollback = self.repo / "docs" / "ROLLBACK.md"
        rollback_saved = self.root / "rollback.saved"
        release_commit = "main"  # the "Release v1.0.0" commit is the tip of main

        def stub_rollback() -> None:
            if not rollback_saved.exists():
                rollback_saved.write_text(rollback.read_text())
            rollback.write_text("# Rollback\nTODO\n")

        def restore_rollback() -> None:
            if rollback_saved.exists():
                rollback.write_text(rollback_saved.read_text())
                rollback_saved.unlink()

        lib = self.repo / "backend" / "crates" / "nova-common" / "src" / "lib.rs"

        def append(text: str) -> Callable[[], None]:
            def apply() -> None:
                if text not in lib.read_text():
                    lib.write_text(lib.read_text() + text)

            return apply

        def restore_lib() -> None:
            lib.write_text(self.git("show", "HEAD:backend/crates/nova-common/src/lib.rs"))

        return [
            Fault(
                "vulnerable-dependency",
                "the advisory database lists the itoa version in Cargo.lock",
                ("PRE-CQ-5",),
                lambda: self._advisory("itoa", "RUSTSEC-2026-9002", ">= 99.0.0", present=True),
                lambda: self._advisory("itoa", "RUSTSEC-2026-9002", ">= 99.0.0", present=False),
                self.name,
            ),
            Fault(
                "cargo-tests-failing",
                "error_rate_pct is off by a factor of 10: unit and integration tests fail",
                ("PRE-CQ-1", "PRE-CQ-2"),
                edit(lib, "errors as f64 * 100.0", "errors as f64 * 10.0"),
                restore_lib,
                self.name,
            ),
            Fault(
                "clippy-warning",
                "a function clippy warns about (len() == 0 on a &Vec)",
                ("PRE-CQ-3",),
                append(
                    "\n/// Whether a batch is empty.\npub fn is_empty_batch(batch: &Vec<u8>) -> bool {\n"
                    "    batch.len() == 0\n}\n"
                ),
                restore_lib,
                self.name,
            ),
            Fault(
                "fmt-drift",
                "a badly formatted function",
                ("PRE-CQ-4",),
                append("\n/// Badly formatted.\npub fn   badly_formatted( x:u8 )->u8{x}\n"),
                restore_lib,
                self.name,
            ),
            Fault(
                "changelog-entry-missing",
                "CHANGELOG.md has no v1.0.0 entry",
                ("P24-6",),
                edit(changelog, "## v1.0.0", "## Unreleased"),
                edit(changelog, "## Unreleased", "## v1.0.0"),
                self.name,
            ),
            Fault(
                "rollback-doc-stub",
                "the rollback procedure is an empty stub",
                ("PRE-DOC-3",),
                stub_rollback,
                restore_rollback,
                self.name,
            ),
            Fault(
                "openapi-not-bumped",
                "tag v1.0.0 moved to a commit whose specs are v0.9.0's",
                ("P24-7",),
                lambda: self.git("tag", "-f", "v1.0.0", "v0.9.0"),
                lambda: self.git("tag", "-f", "v1.0.0", release_commit),
                self.name,
            ),
            Fault(
                "release-tag-missing",
                "git tag v1.0.0 deleted from the release repository",
                ("P24-11",),
                drop_tag,
                restore_tag,
                self.name,
            ),
            Fault(
                "release-notes-missing",
                "release notes for v1.0.0 removed",
                ("PRE-DOC-1",),
                hide_notes,
                restore_notes,
                self.name,
            ),
            Fault(
                "migration-temp-file",
                "a temporary migration file left in migrations/",
                ("P24-12",),
                lambda: tmp.write_text("-- scratch\n"),
                lambda: tmp.unlink(missing_ok=True),
                self.name,
            ),
        ]
