"""Verdicts over S3 facts: buckets exist, block public access, the service principal may read/write (PRE-CFG-4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nova_gate.verdict import Verdict, failed, inconclusive, passed


def _actions(statement: Mapping[str, Any]) -> set[str]:
    action = statement.get("Action", [])
    return {action} if isinstance(action, str) else set(action)


def _principals(statement: Mapping[str, Any]) -> set[str]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return {"*"}
    values = principal.get("AWS", []) if isinstance(principal, Mapping) else []
    return {values} if isinstance(values, str) else set(values)


def _allows(policy: Mapping[str, Any] | None, principal: str, action: str) -> bool:
    for st in (policy or {}).get("Statement", []):
        if st.get("Effect") != "Allow" or principal not in _principals(st):
            continue
        acts = _actions(st)
        if action in acts or "s3:*" in acts or "*" in acts:
            return True
    return False


def buckets_secure(buckets: list[Any], principal: str | None) -> Verdict:
    """PRE-CFG-4: buckets exist, public access fully blocked, the services' principal may read and write."""
    if not buckets:
        return inconclusive("no buckets configured (expectations.s3_buckets)")
    if not principal:
        return inconclusive("no service principal configured (expectations.s3_principal)")
    problems, observed = [], {}
    for b in buckets:
        observed[b.name] = {
            "exists": b.exists,
            "public_access_block": b.public_access_block,
            "services_read": _allows(b.policy, principal, "s3:GetObject"),
            "services_write": _allows(b.policy, principal, "s3:PutObject"),
            "public_policy": any(
                "*" in _principals(st) and st.get("Effect") == "Allow" for st in (b.policy or {}).get("Statement", [])
            ),
        }
        o = observed[b.name]
        if not b.exists:
            problems.append(f"{b.name} does not exist")
            continue
        pab = b.public_access_block or {}
        open_flags = [
            k
            for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
            if not pab.get(k)
        ]
        if open_flags:
            problems.append(f"{b.name} public access not blocked ({', '.join(open_flags)})")
        if o["public_policy"]:
            problems.append(f"{b.name} policy allows Principal *")
        if not (o["services_read"] and o["services_write"]):
            problems.append(
                f"{b.name}: {principal.rsplit('/', 1)[-1]} may not "
                + " and ".join(a for a, ok in (("read", o["services_read"]), ("write", o["services_write"])) if not ok)
            )
    expected = f"buckets exist, public access blocked, {principal} may read and write"
    if problems:
        return failed("; ".join(problems), observed=observed, expected=expected)
    return passed(f"{len(buckets)} buckets private, services may read and write", observed=observed, expected=expected)
