"""The sandbox registry's token server grants what each user's grants allow, and no more."""

from __future__ import annotations

from nova_gate.sandbox.registry_token import TokenIssuer


def _issuer() -> TokenIssuer:
    issuer = object.__new__(TokenIssuer)
    issuer.users = {
        "gates": {"grants": {"nova-*": ["pull"]}},
        "release": {"grants": {"*": ["pull", "push", "delete"], "registry:catalog": ["*"]}},
    }
    return issuer


def _actions(issuer: TokenIssuer, user: str, scope: str) -> list[str]:
    entry = issuer.granted(user, scope)
    assert entry is not None
    return list(entry["actions"])


def test_repository_scopes_are_cut_to_the_grants() -> None:
    issuer = _issuer()
    assert _actions(issuer, "gates", "repository:nova-feed:pull,push") == ["pull"]
    assert _actions(issuer, "gates", "repository:other:pull") == []
    assert _actions(issuer, "release", "repository:other:pull,push") == ["pull", "push"]


def test_the_catalog_needs_its_own_grant() -> None:
    issuer = _issuer()
    assert issuer.granted("release", "registry:catalog:*") == {"type": "registry", "name": "catalog", "actions": ["*"]}
    assert _actions(issuer, "gates", "registry:catalog:*") == []
    # a repository wildcard never reaches the catalog
    assert (issuer.granted("release", "repository:registry:catalog:pull") or {}).get("type") == "repository"
    assert issuer.granted("gates", "unknown:x:pull") is None
