"""Release documents and the release repository (files items of preflight and T+24h)."""

import pytest

from nova_gate.backends.postgres import migrations
from nova_gate.rules import files


@pytest.mark.item("PRE-DOC-1")
def test_release_notes_prepared(release_repo, env, gate):
    path = env.files.release_notes / f"{env.release.version}.md" if env.files.release_notes else None
    gate.evidence(source="files", path=path)
    gate.judge(files.release_notes_complete(release_repo.read_text(path), env.release.version, str(path)))


@pytest.mark.item("PRE-DOC-3")
def test_rollback_procedure_documented(release_repo, env, gate):
    path = env.files.rollback_doc
    gate.evidence(source="files", path=path)
    gate.judge(files.document_present(release_repo.read_text(path), str(path), must_mention=("scale", "migrat")))


@pytest.mark.item("P24-6")
def test_changelog_updated(release_repo, env, gate):
    path = env.files.changelog
    gate.evidence(source="files", path=path)
    gate.judge(files.changelog_has_entry(release_repo.read_text(path), env.release.version, str(path)))


@pytest.mark.item("P24-7")
def test_openapi_specs_updated(release_repo, env, gate):
    specs = release_repo.spec_versions(env.release.version, "openapi")
    changed = release_repo.changed_files(env.release.baseline_version, env.release.version, "openapi")
    gate.evidence(source="files+git", specs=specs, changed=changed)
    gate.judge(files.api_specs_current(specs, changed, env.release.version))


@pytest.mark.item("P24-11")
def test_release_tag_exists(release_repo, env, gate):
    tags = release_repo.tags()
    gate.evidence(source="git", repo=env.release.repo_dir, tags=tags)
    gate.judge(files.tag_exists(tags, env.release.version))


@pytest.mark.item("P24-12")
def test_no_temporary_migration_files(release_repo, env, gate):
    names = release_repo.listing(env.release.migrations_dir)
    gate.evidence(source="files", directory=env.release.migrations_dir, files=names)
    gate.judge(migrations.no_temporary_files(names))
