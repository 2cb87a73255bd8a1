"""The sandbox's local CA: idempotent, reissues what is stale, and real TLS stacks accept its output."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509

from nova_gate.sandbox import pki
from nova_gate.sandbox.pki import LocalCA


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_server_and_client_certificates_verify_with_openssl(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "pki")
    srv = ca.server("postgres")
    cli = ca.client("nova_gate_ro")
    for pair, purpose in ((srv, "sslserver"), (cli, "sslclient")):
        out = subprocess.run(
            ["openssl", "verify", "-purpose", purpose, "-CAfile", str(ca.cert), str(pair.cert)],
            capture_output=True, text=True, check=False,
        )
        assert out.returncode == 0, out.stderr
    assert (tmp_path / "pki" / "postgres.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "pki" / "ca.key").stat().st_mode & 0o777 == 0o600
    names = _load(srv.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(n.value) for n in names} == {"127.0.0.1", "localhost", "::1"}
    assert _load(cli.cert).subject.rfc4514_string() == "CN=nova_gate_ro"


def test_idempotent_and_reissued_when_stale(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path)
    first = ca.server("redis").cert.read_bytes()
    assert ca.server("redis").cert.read_bytes() == first  # nothing changed: kept
    assert ca.server("redis", ("127.0.0.1",)).cert.read_bytes() != first  # names changed: reissued
    kept = ca.server("redis", ("127.0.0.1",)).cert.read_bytes()
    (tmp_path / "redis.key").unlink()
    assert ca.server("redis", ("127.0.0.1",)).cert.read_bytes() != kept  # key missing: reissued


def test_expiring_ca_is_remade_and_its_leaves_reissued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ca = LocalCA(tmp_path)
    leaf = ca.client("admin").cert.read_bytes()
    old_ca = ca.cert.read_bytes()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=pki.CA_DAYS)
    monkeypatch.setattr(pki, "_now", lambda: later)
    ca.ensure()
    assert ca.cert.read_bytes() != old_ca
    assert ca.client("admin").cert.read_bytes() != leaf
    _load(ca.client("admin").cert).verify_directly_issued_by(_load(ca.cert))


def test_leaf_of_another_ca_is_reissued(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path / "a")
    other = LocalCA(tmp_path / "b", "other")
    other.server("x")
    ca.ensure()
    for suffix in ("crt", "key"):
        (tmp_path / "a" / f"x.{suffix}").write_bytes((tmp_path / "b" / f"x.{suffix}").read_bytes())
    _load(ca.server("x").cert).verify_directly_issued_by(_load(ca.cert))


def test_expired_certificate_for_fault_proofs(tmp_path: Path) -> None:
    ca = LocalCA(tmp_path)
    pair = ca.issue("old", "old", client_auth=True, expired=True)
    assert _load(pair.cert).not_valid_after_utc < dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("key_type", ["ec", "rsa"])
def test_python_tls_handshake_trusts_only_its_ca(tmp_path: Path, key_type: str) -> None:
    """A real handshake: the sandbox CA verifies, the untrusted CA's server is refused."""
    good = LocalCA(tmp_path / "pki", key_type=key_type)
    bad = pki.untrusted_ca(tmp_path)
    for server_ca, ok in ((good, True), (bad, False)):
        pair = server_ca.server("srv")
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(pair.cert, pair.key)
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]

        def serve(listener: socket.socket = listener, sctx: ssl.SSLContext = sctx) -> None:
            conn, _ = listener.accept()
            try:
                with sctx.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        cctx = ssl.create_default_context(cafile=str(good.cert))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                if ok:
                    with cctx.wrap_socket(raw, server_hostname="127.0.0.1"):
                        pass
                else:
                    with pytest.raises(ssl.SSLCertVerificationError):
                        cctx.wrap_socket(raw, server_hostname="127.0.0.1")
        finally:
            t.join(5)
            listener.close()


def test_pkcs12_round_trip(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import pkcs12

    ca = LocalCA(tmp_path)
    path = ca.pkcs12("kafka", ca.server("kafka"), "changeit")
    key, cert, extra = pkcs12.load_key_and_certificates(path.read_bytes(), b"changeit")
    assert key is not None and cert is not None and len(extra) == 1


def test_bad_name_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalCA(tmp_path).client("../escape")
