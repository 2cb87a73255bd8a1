"""Records that hold up: a signed manifest of every artifact of a run, and its verification.

After a gate run, ``<base>.manifest.json`` lists the SHA-256 of the run's HTML report, JUnit XML,
evidence and decision files (and their "latest" copies) and is signed with

- ``NOVA_GATE_SIGNING_KEY``: an HMAC-SHA256 key (at least 32 characters), or
- ``NOVA_GATE_SIGNING_ED25519_KEY``: the path of an Ed25519 private key (PEM, PKCS#8); anyone with
  the public key (``NOVA_GATE_VERIFY_ED25519_PUBKEY``, a PEM file) can verify without being able
  to sign — the signer need not be trusted by the verifier.

``verify_directory`` checks every manifest (every listed file present with its hash, the signature
valid when a key is configured, an unsigned manifest rejected when one is) and every evidence file
against its ``.sha256``; an edited and re-hashed record fails on the manifest or the signature.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

MANIFEST_SUFFIX = ".manifest.json"
HMAC_ENV = "NOVA_GATE_SIGNING_KEY"
ED25519_ENV = "NOVA_GATE_SIGNING_ED25519_KEY"
ED25519_PUB_ENV = "NOVA_GATE_VERIFY_ED25519_PUBKEY"
MIN_HMAC_KEY = 32


class SigningError(Exception):
    """A signing key is configured but unusable (one line, no key material)."""


def _canonical(manifest: dict[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def signing_configured() -> bool:
    return bool(os.environ.get(HMAC_ENV) or os.environ.get(ED25519_ENV) or os.environ.get(ED25519_PUB_ENV))


def _hmac_key() -> bytes | None:
    key = os.environ.get(HMAC_ENV)
    if not key:
        return None
    if len(key) < MIN_HMAC_KEY:
        raise SigningError(f"{HMAC_ENV}: shorter than {MIN_HMAC_KEY} characters")
    return key.encode()


def _load_pem(env: str) -> bytes:
    path = os.environ.get(env, "")
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"{env}: cannot read {path}: {exc.strerror}") from None


def sign(manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The signature block for a manifest, or None when no signing key is configured."""
    payload = _canonical(manifest)
    key = _hmac_key()
    if key is not None:
        return {
            "alg": "hmac-sha256",
            "key_id": hashlib.sha256(b"nova-gate key id" + key).hexdigest()[:16],
            "value": hmac.new(key, payload, hashlib.sha256).hexdigest(),
        }
    if os.environ.get(ED25519_ENV):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        try:
            private = serialization.load_pem_private_key(_load_pem(ED25519_ENV), password=None)
        except ValueError:
            raise SigningError(f"{ED25519_ENV}: not a PEM private key") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise SigningError(f"{ED25519_ENV}: not an Ed25519 key")
        public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {
            "alg": "ed25519",
            "key_id": hashlib.sha256(public).hexdigest()[:16],
            "value": private.sign(payload).hex(),
        }
    return None


def check_signature(manifest: dict[str, Any]) -> tuple[bool, str]:
    """(ok, detail). With no key configured an unsigned manifest is fine (hashes still checked)."""
    sig = manifest.get("signature")
    if not signing_configured():
        return True, "no signing key configured: hashes only"
    if not isinstance(sig, dict) or not isinstance(sig.get("value"), str):
        return False, "not signed, but a signing key is configured"
    payload = _canonical(manifest)
    try:
        if sig.get("alg") == "hmac-sha256":
            key = _hmac_key()
            if key is None:
                return False, f"signed with HMAC but {HMAC_ENV} is not set"
            good = hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).hexdigest(), sig["value"])
            return (True, "HMAC-SHA256 signature valid") if good else (False, "HMAC signature does not match")
        if sig.get("alg") == "ed25519":
            return _check_ed25519(payload, sig["value"])
    except SigningError as exc:
        return False, str(exc)
    return False, f"unknown signature algorithm {str(sig.get('alg'))[:40]!r}"


def _check_ed25519(payload: bytes, value: str) -> tuple[bool, str]:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    if os.environ.get(ED25519_PUB_ENV):
        try:
            public = serialization.load_pem_public_key(_load_pem(ED25519_PUB_ENV))
        except ValueError:
            raise SigningError(f"{ED25519_PUB_ENV}: not a PEM public key") from None
    elif os.environ.get(ED25519_ENV):
        private = serialization.load_pem_private_key(_load_pem(ED25519_ENV), password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise SigningError(f"{ED25519_ENV}: not an Ed25519 key")
        public = private.public_key()
    else:
        return False, f"signed with Ed25519 but neither {ED25519_PUB_ENV} nor {ED25519_ENV} is set"
    if not isinstance(public, Ed25519PublicKey):
        raise SigningError(f"{ED25519_PUB_ENV}: not an Ed25519 key")
    try:
        public.verify(bytes.fromhex(value), payload)
    except (InvalidSignature, ValueError):
        return False, "Ed25519 signature does not verify"
    return True, "Ed25519 signature valid"


def write_manifest(directory: Path, base: str, files: list[Path]) -> Path:
    """Hash ``files`` (those that exist) into ``<base>.manifest.json``, signed when a key is set."""
    manifest: dict[str, Any] = {
        "format": "nova-gate manifest 1",
        "run": base,
        "files": {p.name: sha256_file(p) for p in files if p.is_file() and p.parent == directory},
    }
    signature = sign(manifest)
    if signature is not None:
        manifest["signature"] = signature
    path = directory / f"{base}{MANIFEST_SUFFIX}"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def verify_manifest(path: Path, *, latest_may_differ: bool = True) -> tuple[bool, list[str]]:
    """Check one manifest; (ok, lines). ``latest`` copies may since be overwritten by a newer run."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not a mapping")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return False, [f"{path}: not a readable manifest: {exc}"]
    lines, ok = [], True
    good, detail = check_signature(manifest)
    ok &= good
    lines.append(f"{path.name}: {'OK' if good else 'FAIL'}: {detail}")
    for name, expected in sorted(files.items()):
        target = path.parent / str(name)
        if "/" in str(name) or str(name).startswith("."):
            ok = False
            lines.append(f"  {name}: FAIL: not a plain file name")
            continue
        latest = not str(name).startswith(manifest.get("run", "\0"))
        if not target.is_file():
            if latest and latest_may_differ:
                continue
            ok = False
            lines.append(f"  {name}: FAIL: missing")
            continue
        actual = sha256_file(target)
        if actual != expected:
            if latest and latest_may_differ:
                continue  # reports/decision.json etc. belong to the newest run
            ok = False
            lines.append(f"  {name}: FAIL: SHA-256 {actual[:16]}… differs from the manifest's {str(expected)[:16]}…")
        else:
            lines.append(f"  {name}: OK")
    return ok, lines


def manifest_for(path: Path) -> Path | None:
    """The manifest that lists ``path`` (same directory), if any."""
    for candidate in sorted(path.parent.glob(f"*{MANIFEST_SUFFIX}")):
        try:
            files = json.loads(candidate.read_text(encoding="utf-8")).get("files", {})
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(files, dict) and path.name in files and not path.name.startswith(("evidence.", "decision.")):
            return candidate
    return None


def decision_matches_evidence(evidence: Path) -> tuple[bool, str]:
    """The ``<base>.decision.json`` beside an evidence file says what the evidence says."""
    decision_path = evidence.with_name(evidence.name.removesuffix(".evidence.json") + ".decision.json")
    if not decision_path.is_file():
        return True, "no decision file"
    try:
        recorded = json.loads(evidence.read_text(encoding="utf-8")).get("decision", {})
        decision = json.loads(decision_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, AttributeError) as exc:
        return False, f"unreadable: {exc}"
    for key in ("decision", "items", "phase", "version", "partial"):
        if decision.get(key) != recorded.get(key):
            return False, f"{decision_path.name} says {key}={str(decision.get(key))[:60]}, the evidence does not"
    return True, "decision file matches the evidence"


def verify_directory(directory: Path) -> tuple[bool, list[str]]:
    """Every manifest and every evidence file of a reports directory."""
    from nova_gate.report import verify_evidence

    lines: list[str] = []
    ok = True
    manifests = sorted(directory.glob(f"*{MANIFEST_SUFFIX}"))
    listed: set[str] = set()
    for manifest in manifests:
        good, out = verify_manifest(manifest)
        ok &= good
        lines += out
        with contextlib.suppress(OSError, ValueError, AttributeError):
            listed |= set(json.loads(manifest.read_text(encoding="utf-8")).get("files", {}))
    evidences = sorted(p for p in directory.glob("*.evidence.json"))
    for evidence in evidences:
        good, detail = verify_evidence(evidence)
        ok &= good
        lines.append(detail)
        consistent, why = decision_matches_evidence(evidence)
        if not consistent:
            ok = False
            lines.append(f"{evidence.name}: FAIL: {why}")
        if evidence.name not in listed:
            if signing_configured():
                ok = False
                lines.append(f"{evidence.name}: FAIL: not covered by a signed manifest")
            else:
                lines.append(f"{evidence.name}: no manifest (older record): hash only")
    for decision in sorted(directory.glob("*.decision.json")):
        if decision.name not in listed and signing_configured():
            ok = False
            lines.append(f"{decision.name}: FAIL: not covered by a signed manifest")
    if not manifests and not evidences:
        return False, [f"{directory}: no audit record (no *.manifest.json, no *.evidence.json)"]
    return ok, lines
