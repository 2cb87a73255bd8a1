"""Kafka client security settings and the classification of the brokers' refusals (no broker)."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from pydantic import SecretStr

from nova_gate.backends.kafka import security as ks


def test_plaintext_by_default() -> None:
    assert ks.client_kwargs(SimpleNamespace()) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_scram() -> None:
    cfg = SimpleNamespace(
        security_protocol="sasl_ssl", sasl_mechanism="SCRAM-SHA-256", username="nova-gate",
        password=SecretStr("pw"), ssl_cafile="/etc/ca.pem", ssl_certfile=None, ssl_keyfile=None,
    )  # fmt: skip
    assert ks.client_kwargs(cfg) == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "nova-gate",
        "sasl_plain_password": "pw",
        "ssl_cafile": "/etc/ca.pem",
    }


def test_mutual_tls() -> None:
    cfg = SimpleNamespace(security_protocol="SSL", ssl_cafile="ca", ssl_certfile="crt", ssl_keyfile="key")
    out = ks.client_kwargs(cfg)
    assert out["ssl_certfile"] == "crt" and out["ssl_keyfile"] == "key" and "sasl_mechanism" not in out


# what kafka-python 3 logs when the sandbox's SASL_SSL listener refuses (recorded from the real brokers)
SASL_REFUSED = (
    "<KafkaConnection node_id=bootstrap-1 broker_version=(4, 1) (disconnected)>: Connection lost: [Error 58] "
    "SaslAuthenticationFailedError: SaslAuthenticationFailedError: Authentication failed during authentication "
    "due to invalid credentials with SASL mechanism SCRAM-SHA-512"
)
TLS_REFUSED = (
    "Connection failed: KafkaConnectionError: Handshake failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate "
    "verify failed: self-signed certificate in certificate chain (_ssl.c:1006)"
)


def test_classify_recorded_refusals() -> None:
    assert (ks.classify(SASL_REFUSED) or "").startswith("unauthorised: Connection lost: [Error 58] SaslAuth")
    assert (ks.classify(TLS_REFUSED) or "").startswith("TLS: Connection failed: KafkaConnectionError: Handshake")
    assert ks.classify("Bootstrap connection to bootstrap-1 failed: socket disconnected") is None
    # a black-holed SSL/SASL_SSL listener (recorded through nova_gate.sandbox.faultproxy): no answer, not TLS
    black_hole = "Connection failed: KafkaConnectionError: Handshake failed: KafkaTimeoutError: I/O wait timed out"
    assert ks.classify(black_hole) is None


def test_connection_failures_prefers_authentication_over_tls() -> None:
    log = logging.getLogger("kafka.net.manager")
    with ks.connection_failures() as seen:
        log.error("Connection failed: %s", TLS_REFUSED)
        log.error("%s", SASL_REFUSED)
        log.info("metadata refreshed")
    assert (seen.reason() or "").startswith("unauthorised")
    assert not log.handlers or seen not in log.handlers
