"""The sandbox's local certificate authority: server and client certificates made at start.

Every TLS listener of the sandbox (PostgreSQL, Redis, Prometheus, Kafka, ...) serves a certificate
issued here, and every client certificate the sandbox hands out comes from here too. Nothing of this
is committed: it lives in the sandbox state directory (``.sandbox/pki``), keys mode 0600.

    ca = sandbox_ca()                      # .sandbox/pki/ca.crt (+ ca.key), made if missing
    pg = ca.server("postgres")             # pki/postgres.crt, pki/postgres.key: 127.0.0.1, localhost
    me = ca.client("nova_gate_ro")         # pki/nova_gate_ro.crt (CN=nova_gate_ro), clientAuth
    bad = untrusted_ca().server("postgres")  # same names, a CA no client trusts (fault proofs)

Idempotent: a certificate is reissued only when it is missing, expires within ``RENEW_BEFORE``,
was not signed by the current CA, or its names changed; the CA itself is remade when missing or
expiring, and then every leaf is reissued on next use. Concurrent starts are serialised by a lock
file in the directory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nova_gate.sandbox.base import state_dir

#: validity of the CA and of the certificates it issues
CA_DAYS = 3650
LEAF_DAYS = 825
#: a certificate with less than this left is reissued
RENEW_BEFORE = dt.timedelta(days=30)
#: names every loopback server certificate carries
LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class CertPair:
    """A PEM certificate and its private key (unencrypted PKCS#8, mode 0600)."""

    cert: Path
    key: Path
    #: the issuing CA's certificate (the trust bundle a peer needs)
    ca: Path

    def as_dict(self) -> dict[str, str]:
        return {"cert": str(self.cert), "key": str(self.key), "ca": str(self.ca)}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically (a reader never sees half a key) with ``mode`` from the start."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _new_key(kind: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"key type {kind!r}: expected 'ec' or 'rsa'")


def _san(hosts: Sequence[str]) -> list[Any]:
    from cryptography import x509

    out: list[Any] = []
    for host in hosts:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            out.append(x509.DNSName(host))
    return out


class LocalCA:
    """A self-signed CA in ``directory`` (``ca.crt``, ``ca.key``) and the leaves it issues there."""

    def __init__(self, directory: Path, common_name: str = "nova-sandbox-ca", key_type: str = "ec") -> None:
        self.dir = directory
        self.common_name = common_name
        self.key_type = key_type

    def __repr__(self) -> str:
        return f"LocalCA({str(self.dir)!r}, {self.common_name!r})"

    @property
    def cert(self) -> Path:
        return self.dir / "ca.crt"

    @property
    def key(self) -> Path:
        return self.dir / "ca.key"

    # -- locking ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        with open(self.dir / ".lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- the CA -------------------------------------------------------------------------------
    def ensure(self) -> Path:
        """Make the CA if it is missing, unreadable or expiring; return ``ca.crt``."""
        with self._locked():
            self._ensure_ca()
        return self.cert

    def _load_ca(self) -> tuple[Any, Any] | None:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        try:
            cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
            key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        except (OSError, ValueError):
            return None
        if cert.not_valid_after_utc - RENEW_BEFORE < _now():
            return None
        if cert.public_key().public_numbers() != key.public_key().public_numbers():  # type: ignore[union-attr]
            return None
        return cert, key

    def _ensure_ca(self) -> tuple[Any, Any]:
        loaded = self._load_ca()
        if loaded is not None:
            return loaded
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import NameOID

        key = _new_key(self.key_type)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)])
        start = _now() - dt.timedelta(minutes=5)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write(self.key, _key_pem(key), 0o600)
        _write(self.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return cert, key

    # -- leaves -------------------------------------------------------------------------------
    def server(
        self,
        name: str,
        hosts: Sequence[str] = LOOPBACK_HOSTS,
        *,
        common_name: str | None = None,
        client_auth: bool = True,
        key_type: str | None = None,
    ) -> CertPair:
        """A serving certificate ``name.crt`` for ``hosts`` (serverAuth, and clientAuth for peers)."""
        return self.issue(
            name, common_name or name, hosts=hosts, server_auth=True, client_auth=client_auth, key_type=key_type
        )

    def client(
        self, name: str, common_name: str | None = None, orgs: Sequence[str] = (), *, key_type: str | None = None
    ) -> CertPair:
        """A client certificate ``name.crt`` whose CN (``common_name``, default ``name``) is the identity."""
        return self.issue(name, common_name or name, orgs=orgs, client_auth=True, key_type=key_type)

    def issue(
        self,
        name: str,
        common_name: str,
        *,
        hosts: Sequence[str] = (),
        orgs: Sequence[str] = (),
        server_auth: bool = False,
        client_auth: bool = False,
        key_type: str | None = None,
        expired: bool = False,
    ) -> CertPair:
        """Issue (or keep) ``name.crt``/``name.key``; ``expired=True`` makes one that ended yesterday."""
        if "/" in name or name.startswith(".") or name == "ca":
            raise ValueError(f"certificate name {name!r}: a plain file stem other than 'ca'")
        pair = CertPair(self.dir / f"{name}.crt", self.dir / f"{name}.key", self.cert)
        with self._locked():
            ca_cert, ca_key = self._ensure_ca()
            want = (common_name, tuple(orgs), tuple(hosts), server_auth, client_auth)
            if not expired and self._is_current(pair, ca_cert, want):
                return pair
            self._sign(pair, ca_cert, ca_key, want, key_type or self.key_type, expired)
        return pair

    def _is_current(self, pair: CertPair, ca_cert: Any, want: tuple[Any, ...]) -> bool:
        from cryptography import x509

        try:
            cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
            pair.key.stat()
        except (OSError, ValueError):
            return False
        if cert.not_valid_after_utc - RENEW_BEFORE < _now() or cert.issuer != ca_cert.subject:
            return False
        try:
            cert.verify_directly_issued_by(ca_cert)
        except Exception:  # InvalidSignature, TypeError, ValueError: any of them means reissue
            return False
        return _describe(cert) == want

    def _sign(
        self, pair: CertPair, ca_cert: Any, ca_key: Any, want: tuple[Any, ...], key_type: str, expired: bool
    ) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        common_name, orgs, hosts, server_auth, client_auth = want
        key = _new_key(key_type)
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        if expired:
            start = _now() - dt.timedelta(days=30)
            end = _now() - dt.timedelta(days=1)
        else:
            start = _now() - dt.timedelta(minutes=5)
            end = min(start + dt.timedelta(days=LEAF_DAYS), ca_cert.not_valid_after_utc)
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] if server_auth else []
        if client_auth:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=key_type == "rsa",
                    data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
            )
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        if hosts:
            builder = builder.add_extension(x509.SubjectAlternativeName(_san(hosts)), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write(pair.key, _key_pem(key), 0o600)
        _write(pair.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)

    def bundle(self, name: str, pair: CertPair) -> Path:
        """``name.pem``: the certificate, then the key (one-file clients such as some Redis tools)."""
        path = self.dir / f"{name}.pem"
        _write(path, pair.cert.read_bytes() + pair.key.read_bytes(), 0o600)
        return path

    def pkcs12(self, name: str, pair: CertPair, password: str) -> Path:
        """``name.p12``: key, certificate and CA for Java keystores (``keystore.type=PKCS12``)."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.serialization import pkcs12

        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
        ca = x509.load_pem_x509_certificate(self.cert.read_bytes())
        data = pkcs12.serialize_key_and_certificates(
            name.encode(), key, cert, [ca],  # type: ignore[arg-type]
            serialization.BestAvailableEncryption(password.encode()),
        )
        path = self.dir / f"{name}.p12"
        _write(path, data, 0o600)
        return path


def _describe(cert: Any) -> tuple[Any, ...]:
    """The facts ``issue`` was asked for, read back from a certificate (to decide on reissue)."""
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME))
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts = tuple(str(v.value) for v in san)
    except x509.ExtensionNotFound:
        hosts = ()
    try:
        eku = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        eku = []
    return (
        str(cn[0].value) if cn else "",
        orgs,
        hosts,
        ExtendedKeyUsageOID.SERVER_AUTH in eku,
        ExtendedKeyUsageOID.CLIENT_AUTH in eku,
    )


def pki_dir(root: Path | None = None) -> Path:
    return (root or state_dir()) / "pki"


def sandbox_ca(root: Path | None = None) -> LocalCA:
    """The CA every sandbox server and client trusts: ``<state>/pki``."""
    ca = LocalCA(pki_dir(root), "nova-sandbox-ca")
    ca.ensure()
    return ca


def untrusted_ca(root: Path | None = None) -> LocalCA:
    """A second CA nobody trusts (``<state>/pki-untrusted``): its certificates prove TLS faults."""
    ca = LocalCA((root or state_dir()) / "pki-untrusted", "nova-untrusted-ca")
    ca.ensure()
    return ca
