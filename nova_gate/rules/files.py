"""Release-repository facts: release notes, rollback document, changelog, API specs, git tags."""

from __future__ import annotations

import re

from nova_gate.verdict import Verdict, failed, passed

RELEASE_NOTE_SECTIONS = ("changes", "bug fixes", "breaking changes")


def release_notes_complete(text: str | None, version: str, where: str) -> Verdict:
    """PRE-DOC-1: notes for VERSION exist and name changes, bug fixes and breaking changes."""
    expected = {"file": where, "sections": list(RELEASE_NOTE_SECTIONS)}
    if text is None:
        return failed(f"no release notes for {version} ({where})", expected=expected)
    if version not in text:
        return failed(f"release notes {where} do not mention {version}", expected=expected)
    headings = {h.strip().lower().rstrip(":") for h in re.findall(r"^#+\s*(.+)$", text, re.M)}
    missing = [s for s in RELEASE_NOTE_SECTIONS if not any(s == h or h.startswith(s) for h in headings)]
    if missing:
        return failed(
            f"release notes for {version} lack sections: {', '.join(missing)}",
            observed=sorted(headings),
            expected=expected,
        )
    return passed(f"release notes for {version} have all sections", observed=sorted(headings), expected=expected)


def document_present(text: str | None, where: str, min_chars: int = 200, must_mention: tuple[str, ...] = ()) -> Verdict:
    """PRE-DOC-3: a document exists, is not a stub, and mentions what it must."""
    if text is None:
        return failed(f"{where} is missing", expected={"file": where})
    if len(text.strip()) < min_chars:
        return failed(
            f"{where} is a stub ({len(text.strip())} characters)",
            observed=len(text.strip()),
            expected=f">= {min_chars} characters",
        )
    absent = [m for m in must_mention if m.lower() not in text.lower()]
    if absent:
        return failed(f"{where} does not mention {', '.join(absent)}", expected=list(must_mention))
    return passed(f"{where} present ({len(text)} characters)", observed=len(text))


def changelog_has_entry(text: str | None, version: str, where: str) -> Verdict:
    """P24-6: CHANGELOG.md has a heading for VERSION with at least one line under it."""
    if text is None:
        return failed(f"{where} is missing")
    bare = version.lstrip("v")
    match = re.search(rf"^#+\s*\[?v?{re.escape(bare)}\]?.*$", text, re.M)
    if not match:
        return failed(f"{where} has no entry for {version}", expected=f"a heading '## {version}'")
    rest = text[match.end() :]
    body = re.split(r"^#+\s", rest, maxsplit=1, flags=re.M)[0]
    if not any(line.strip().startswith(("-", "*")) for line in body.splitlines()):
        return failed(f"{where} entry for {version} is empty")
    return passed(f"{where} has an entry for {version}")


def api_specs_current(spec_versions: dict[str, str | None], changed_files: list[str], version: str) -> Verdict:
    """P24-7: every OpenAPI spec declares the release version or was changed by the release."""
    if not spec_versions:
        return failed("no OpenAPI specs found", expected="openapi/*.yaml")
    bare = version.lstrip("v")
    stale = [name for name, v in spec_versions.items() if (v or "").lstrip("v") != bare and name not in changed_files]
    if stale:
        return failed(
            f"OpenAPI specs neither changed nor at {version}: {', '.join(sorted(stale))}",
            observed=spec_versions,
            expected=f"info.version == {bare} or changed in the release",
        )
    return passed(f"{len(spec_versions)} OpenAPI specs current", observed=spec_versions)


def tag_exists(tags: list[str], version: str) -> Verdict:
    """P24-11: the release tag exists in the release repository."""
    if version in tags:
        return passed(f"tag {version} exists", observed=version)
    return failed(f"git tag {version} not found", observed=sorted(tags)[-10:], expected=version)
