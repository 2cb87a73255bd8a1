"""The release repository on disk: documents, specs, migrations directory listing, git tags."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from nova_gate.backends.base import Source, SourceError
from nova_gate.backends.kubernetes.facts import DeploymentFacts, deployment_facts


class ReleaseRepo(Source):
    backend = "files"

    def __init__(self, repo_dir: Path | None) -> None:
        super().__init__()
        self.repo_dir = repo_dir

    def read_text(self, path: Path | None) -> str | None:
        """The file's text, or None when it does not exist; other read errors raise."""
        if path is None:
            raise SourceError(self.backend, "path not configured in the environment")
        with self.call(f"read {path}"):
            try:
                return path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return None

    def deployment_manifests(self, directory: Path) -> list[DeploymentFacts]:
        """Every ``kind: Deployment`` in the YAML files under ``directory`` (multi-document files too)."""
        out: list[DeploymentFacts] = []
        with self.call(f"read manifests {directory}"):
            if not directory.is_dir():
                raise SourceError(self.backend, f"{directory} is not a directory")
            for path in sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")]):
                try:
                    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
                except yaml.YAMLError as exc:
                    raise SourceError(self.backend, f"parse {path.name}", str(exc).splitlines()[0]) from None
                for doc in docs:
                    if isinstance(doc, dict) and doc.get("kind") == "Deployment":
                        try:
                            out.append(deployment_facts(doc))
                        except ValueError as exc:
                            raise SourceError(self.backend, f"read {path.name}", str(exc)) from None
        return out

    def listing(self, directory: Path | None) -> list[str]:
        if directory is None:
            raise SourceError(self.backend, "directory not configured in the environment")
        with self.call(f"list {directory}"):
            if not directory.is_dir():
                raise SourceError(self.backend, f"{directory} is not a directory")
            return sorted(p.name for p in directory.iterdir())

    def spec_versions(self, ref: str, subdir: str) -> dict[str, str | None]:
        """``info.version`` of every OpenAPI document (yaml/json) in ``subdir`` at git ``ref``."""
        out: dict[str, str | None] = {}
        for path in self._git("ls-tree", "--name-only", "--end-of-options", _ref(ref, f"{ref}:{subdir}")).split():
            name = Path(path).name
            if not name.endswith((".yaml", ".yml", ".json")):
                continue
            text = self._git("show", "--end-of-options", _ref(ref, f"{ref}:{subdir}/{name}"))
            try:
                doc = yaml.safe_load(text)
            except yaml.YAMLError as exc:
                raise SourceError(self.backend, f"{name} is not valid YAML/JSON", exc) from exc
            info = doc.get("info", {}) if isinstance(doc, dict) else {}
            version = info.get("version") if isinstance(info, dict) else None
            out[name] = str(version) if version is not None else None
        return out

    def _git(self, *args: str) -> str:
        if self.repo_dir is None:
            raise SourceError("git", "release.repo_dir not configured in the environment")
        with self.call("git " + " ".join(args)):
            try:
                proc = subprocess.run(
                    ["git", "-C", str(self.repo_dir), *args],
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise SourceError("git", "timed out", exc) from exc
            if proc.returncode != 0:
                raise SourceError("git", " ".join(args), proc.stderr.strip().splitlines()[-1:] or "failed")
            return proc.stdout

    def tags(self) -> list[str]:
        return self._git("tag", "--list").split()

    def changed_files(self, base: str, head: str, subdir: str) -> list[str]:
        """Names (relative to ``subdir``) of files changed between two refs."""
        out = self._git(
            "diff", "--name-only", "--end-of-options", _ref(base, _ref(head, f"{base}..{head}")), "--", subdir
        )
        return [Path(p).name for p in out.split()]


def _ref(ref: str, arg: str) -> str:
    """A version used as a git revision: never an option (the config validates it too)."""
    from nova_gate.config import check_identifier

    try:
        check_identifier(ref, "git revision")
    except ValueError as exc:
        raise SourceError("git", str(exc)) from None
    return arg
