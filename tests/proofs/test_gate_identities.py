"""The gates' identities on the sandbox are read-only for real, and the gates pass with only them.

Each backend's identity comes from ``environments/sandbox.yaml`` — what every gate run uses — and is
tried against the real server: reads work, writes are refused by the server itself (RBAC, the
registry's token scopes, ...). Wrong credentials give a one-line FAIL naming the backend.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from nova_gate.config import load_environment
from nova_gate.sandbox import kube_client
from nova_gate.sandbox import kubernetes as kube
from nova_gate.sandbox.base import state_dir

ROOT = Path(__file__).resolve().parents[2]
KUBE_ITEMS = ["PRE-CFG-1", "PRE-INF-1", "PRE-INF-7"]  # the preflight items that read Kubernetes


def _env() -> Any:
    return load_environment("sandbox").env


# -- Kubernetes -----------------------------------------------------------------------------------
def kubectl(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return kube_client.kubectl(*args, kubeconfig=config)


def gates_kubeconfig() -> Path:
    cfg = _env().backends.kubernetes
    assert cfg is not None and cfg.kubeconfig is not None
    return Path(cfg.kubeconfig)


def test_the_gates_kubeconfig_is_a_service_account_token_not_the_admin() -> None:
    path = gates_kubeconfig()
    assert path.name == kube.GATES_KUBECONFIG and path.stat().st_mode & 0o077 == 0
    doc = yaml.safe_load(path.read_text())
    (user,) = doc["users"]
    assert set(user["user"]) == {"token"}, "no client certificate: the admin identity is a certificate"
    who = kubectl(path, "auth", "whoami", "-o", "json")
    assert who.returncode == 0, who.stderr
    info = json.loads(who.stdout)["status"]["userInfo"]
    assert info["username"] == f"system:serviceaccount:{kube.GATES_NAMESPACE}:{kube.GATES_SERVICE_ACCOUNT}"
    assert "system:masters" not in info.get("groups", [])


def test_kubernetes_gates_identity_reads_and_cannot_write() -> None:
    config = gates_kubeconfig()
    ok = kubectl(config, "get", "pods,deployments,services", "-n", kube_client.NAMESPACE, "-o", "name")
    assert ok.returncode == 0 and "pod/" in ok.stdout and "deployment.apps/" in ok.stdout, ok.stderr
    deployment = ok.stdout.split("deployment.apps/")[1].split()[0]
    denied = {
        "patch": kubectl(
            config, "patch", "deployment", deployment, "-n", kube_client.NAMESPACE, "--type=merge",
            "-p", '{"metadata": {"labels": {"touched": "yes"}}}',
        ),
        "create": kubectl(config, "create", "configmap", "x", "-n", kube_client.NAMESPACE),
        "scale": kubectl(config, "scale", "deployment", deployment, "-n", kube_client.NAMESPACE, "--replicas=0"),
        "delete": kubectl(config, "delete", "pod", "--all", "-n", kube_client.NAMESPACE, "--dry-run=server"),
        "secrets": kubectl(config, "get", "secrets", "-n", kube_client.NAMESPACE),
        "escalate": kubectl(config, "create", "clusterrolebinding", "x", "--clusterrole=cluster-admin",
                            f"--serviceaccount={kube.GATES_NAMESPACE}:{kube.GATES_SERVICE_ACCOUNT}"),
    }  # fmt: skip
    for verb, r in denied.items():
        assert r.returncode != 0 and "forbidden" in r.stderr.lower(), f"{verb} was not forbidden: {r.stdout} {r.stderr}"


def test_kubernetes_gates_pass_with_the_gates_identity(gate_run: Any) -> None:
    """The sandbox environment as it is (the gates' kubeconfig): every preflight Kubernetes item PASSes."""
    run = gate_run(KUBE_ITEMS, "--env=sandbox")
    assert run.decision["decision"] == "PARTIAL", run.explain()
    assert run.labels() == dict.fromkeys(KUBE_ITEMS, "PASS"), run.explain()


@pytest.mark.parametrize("case", ["unknown-token", "expired-token", "untrusted-ca"])
def test_kubernetes_wrong_credentials_fail_in_one_line(case: str, gate_run: Any, env_file: Any, tmp_path: Path) -> None:
    doc = yaml.safe_load(gates_kubeconfig().read_text())
    if case == "unknown-token":
        doc["users"][0]["user"]["token"] = "not-a-token-" + "x" * 20
    elif case == "expired-token":
        doc["users"][0]["user"]["token"] = _expired_token(doc["users"][0]["user"]["token"])
    else:
        doc["clusters"][0]["cluster"]["certificate-authority"] = str(_untrusted_ca(tmp_path))
    bad = tmp_path / "bad.kubeconfig"
    bad.write_text(yaml.safe_dump(doc))
    bad.chmod(0o600)
    run = gate_run(["PRE-INF-7"], env_file=env_file({"backends.kubernetes.kubeconfig": str(bad)}), timeout=120)
    assert run.labels() == {"PRE-INF-7": "FAIL"}, run.explain()
    reasons = run.decision["reasons"]["PRE-INF-7"]
    assert reasons and all("\n" not in r for r in reasons) and "Traceback" not in run.output
    text = " ".join(reasons)
    assert "kubernetes" in text.lower()
    want = ("TLS", "certificate", "SSL") if case == "untrusted-ca" else ("unauthorised", "401", "Unauthorized")
    assert any(w in text for w in want), text
    assert "eyJ" not in run.output and "not-a-token" not in run.output


def _untrusted_ca(tmp_path: Path) -> Path:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the sandbox CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    path = tmp_path / "untrusted-ca.crt"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _expired_token(token: str) -> str:
    """The gates' real token with its times moved an hour into the past, re-signed with the API
    server's own service-account key: a genuine token that expired (TokenRequest's minimum is 10 min)."""
    import base64
    import time

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    header, payload, _ = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    now = int(time.time())
    claims.update(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    signing_input = f"{header}.{b64(json.dumps(claims).encode())}"
    key = serialization.load_pem_private_key((state_dir() / "kube" / "pki" / "sa.key").read_bytes(), None)
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
    return f"{signing_input}.{b64(signature)}"


# -- Kafka ----------------------------------------------------------------------------------------
def _kafka_admin(**kwargs: Any) -> Any:
    from kafka import KafkaAdminClient

    from nova_gate.sandbox import kafka as sk

    return KafkaAdminClient(
        **{**sk.client_kwargs(sk.GATES_USER), **kwargs}, request_timeout_ms=10_000, bootstrap_timeout_ms=6_000
    )


def test_kafka_gates_identity_reads_and_cannot_write() -> None:
    from kafka import KafkaProducer, TopicPartition
    from kafka.admin import ConfigResource, ConfigResourceType, NewTopic
    from kafka.errors import ClusterAuthorizationFailedError, KafkaError, TopicAuthorizationFailedError

    from nova_gate.sandbox import kafka as sk

    admin = _kafka_admin()
    try:
        assert {t.name for t in sk.TOPICS} <= set(admin.list_topics())
        assert admin.describe_topics(["messages"])[0]["error_code"] == 0
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "messages")])
        assert "retention.ms" in str(configs)
        assert admin.list_group_offsets("feed-service-consumer")
        assert admin.list_partition_offsets({TopicPartition("messages", 0): -1})
        with pytest.raises(TopicAuthorizationFailedError):
            admin.create_topics([NewTopic("nova-gate-must-not-exist", 1, 1)], timeout_ms=10_000)
        with pytest.raises(KafkaError):
            admin.delete_topics(["messages"], timeout_ms=10_000)
        altered = ConfigResource(ConfigResourceType.TOPIC, "messages", {"retention.ms": "1000"})
        answer = admin.alter_configs([altered])
        assert "TopicAuthorizationFailed" in str(answer) or "error_code=29" in str(answer) or "29" in str(answer)
    finally:
        admin.close()
    for idempotent, error in ((False, TopicAuthorizationFailedError), (True, ClusterAuthorizationFailedError)):
        producer = KafkaProducer(
            **sk.client_kwargs(sk.GATES_USER),
            enable_idempotence=idempotent,
            max_block_ms=8_000,
            request_timeout_ms=8_000,
        )
        try:
            with pytest.raises(KafkaError) as caught:
                producer.send("messages", b"must not be written").get(timeout=15)
            assert error.__name__ in repr(caught.value) or isinstance(caught.value, error), repr(caught.value)
        finally:
            producer.close(timeout=5)
    # nothing was changed: the topic is still there with its retention
    with sk.admin_client() as super_admin:
        assert "nova-gate-must-not-exist" not in super_admin.list_topics()
        assert "604800000" in str(super_admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, "messages")]))


# kafka-python leaves the sockets of a failed bootstrap to the garbage collector
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning")
@pytest.mark.parametrize("case", ["wrong-password", "unknown-user", "untrusted-ca", "plaintext"])
def test_kafka_refuses_wrong_credentials_fast(case: str) -> None:
    import gc
    import time

    from kafka.errors import KafkaError

    from nova_gate.sandbox.pki import untrusted_ca

    change: dict[str, Any] = {
        "wrong-password": {"sasl_plain_password": "wrong-password-for-the-proof"},
        "unknown-user": {"sasl_plain_username": "nobody"},
        "untrusted-ca": {"ssl_cafile": str(untrusted_ca().ensure())},
        "plaintext": {"security_protocol": "PLAINTEXT", "sasl_mechanism": None},
    }[case]
    started = time.monotonic()
    with pytest.raises(KafkaError):
        _kafka_admin(**change).list_topics()
    assert time.monotonic() - started < 20
    gc.collect()  # the leaked sockets' warnings belong to this test, not the next one


# -- Registry -------------------------------------------------------------------------------------
def test_registry_gates_identity_pulls_and_cannot_push() -> None:
    from nova_gate.sandbox import registry as sr

    repo = sr.repository("feed-service")
    with sr.RegistryClient(username=sr.GATES_USER) as gates:
        assert {"v0.9.0", "v1.0.0", "latest"} <= set(gates.tags(repo))
        assert gates.get_manifest(repo, "v1.0.0")
        image = sr.build_image("feed-service", "v0.9.0")
        with pytest.raises(sr.SandboxError, match="401"):
            gates.put_manifest(repo, "pushed-by-the-gates", image["manifest"])
        with pytest.raises(sr.SandboxError, match="401"):
            gates._check(gates.http.post(f"/v2/{repo}/blobs/uploads/"), "start upload", 202)
        digest = gates.manifest_digest(repo, "v0.8.0")
        assert digest
        with pytest.raises(sr.SandboxError, match="401"):
            gates._check(gates.http.delete(f"/v2/{repo}/manifests/{digest}"), "delete", 202)
    with sr.RegistryClient() as release:
        assert "pushed-by-the-gates" not in release.tags(repo)
        assert "v0.8.0" in release.tags(repo)


def _registry_token(exp_offset_s: int, signer: str = "registry-token-signer") -> str:
    import base64
    import time

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    from nova_gate.sandbox import registry as sr
    from nova_gate.sandbox.pki import sandbox_ca, untrusted_ca

    ca = sandbox_ca() if signer == "registry-token-signer" else untrusted_ca()
    pair = ca.issue("registry-token-signer", "nova-sandbox-registry-token", key_type="rsa")
    cert = base64.b64encode(_der(pair.cert.read_bytes())).decode()

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    now = int(time.time())
    claims = {
        "iss": sr.TOKEN_ISSUER, "sub": sr.GATES_USER, "aud": sr.TOKEN_SERVICE, "iat": now - 600,
        "nbf": now - 600, "exp": now + exp_offset_s, "jti": "proof",
        "access": [{"type": "repository", "name": sr.repository("feed-service"), "actions": ["pull"]}],
    }  # fmt: skip
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert]}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    key: Any = serialization.load_pem_private_key(pair.key.read_bytes(), None)
    return f"{signing_input}.{b64(key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()))}"


def _der(pem: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("case", ["valid", "expired", "foreign-signer", "garbage"])
def test_registry_checks_the_token_itself(case: str) -> None:
    """The registry (not the client) refuses an expired token, one signed outside its trust, junk."""
    import httpx

    from nova_gate.sandbox import registry as sr

    token = {
        "valid": lambda: _registry_token(300),
        "expired": lambda: _registry_token(-60),
        "foreign-signer": lambda: _registry_token(300, signer="untrusted"),
        "garbage": lambda: "not-a-token",
    }[case]()
    resp = httpx.get(
        f"{sr.URL}/v2/{sr.repository('feed-service')}/tags/list",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert resp.status_code == (200 if case == "valid" else 401), resp.text[:200]


def test_registry_wrong_password_is_unauthorised_in_one_line() -> None:
    from nova_gate.backends.registry.auth import RegistryAuthError
    from nova_gate.sandbox import registry as sr

    client = sr.RegistryClient(username=sr.GATES_USER, password="wrong-password-for-the-proof")
    with client, pytest.raises(RegistryAuthError) as caught:
        client.tags(sr.repository("feed-service"))
    message = str(caught.value)
    assert "unauthorised" in message and "\n" not in message and "wrong-password" not in message


def test_kubernetes_gates_pass_with_an_exec_credential_plugin(gate_run: Any, env_file: Any, tmp_path: Path) -> None:
    """A kubeconfig whose user is an exec plugin (as EKS' ``aws eks get-token``) works as kubectl's does."""
    import sys

    doc = yaml.safe_load(gates_kubeconfig().read_text())
    token = doc["users"][0]["user"].pop("token")
    plugin = tmp_path / "token-plugin.py"
    token_file = tmp_path / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    plugin.write_text(
        "import json, pathlib\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',\n"
        f"    'status': {{'token': pathlib.Path({str(token_file)!r}).read_text()}}}}))\n"
    )
    doc["users"][0]["user"]["exec"] = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": sys.executable,
        "args": [str(plugin)],
        "interactiveMode": "Never",
    }
    config = tmp_path / "exec.kubeconfig"
    config.write_text(yaml.safe_dump(doc))
    config.chmod(0o600)
    run = gate_run(["PRE-INF-7"], env_file=env_file({"backends.kubernetes.kubeconfig": str(config)}))
    assert run.labels() == {"PRE-INF-7": "PASS"}, run.explain()
    assert token not in run.output


# -- S3 (moto with IAM enforcement) ---------------------------------------------------------------
def _denied(call: Any) -> bool:
    import botocore.exceptions

    from nova_gate import aws

    try:
        call()
    except botocore.exceptions.ClientError as exc:
        return aws.is_unauthorised(exc)
    return False


def test_s3_gates_identity_reads_and_cannot_write() -> None:
    from nova_gate.sandbox import s3 as ss

    gates = ss.client(profile=ss.GATES)
    for bucket in ss.BUCKETS:
        gates.head_bucket(Bucket=bucket)
        assert gates.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicAcls"]
        assert json.loads(gates.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert _denied(lambda: gates.put_object(Bucket="nova-media", Key="smoke/by-the-gates", Body=b"x"))
    assert _denied(lambda: gates.put_object(Bucket="nova-media", Key="anywhere", Body=b"x"))
    assert _denied(lambda: gates.delete_bucket_policy(Bucket="nova-media"))
    assert _denied(lambda: gates.delete_public_access_block(Bucket="nova-media"))


def test_s3_smoke_identity_writes_only_under_its_prefix() -> None:
    from nova_gate.sandbox import s3 as ss

    smoke = ss.client(profile=ss.SMOKE)
    key = f"{ss.SMOKE_PREFIX}proof-object"
    smoke.put_object(Bucket=ss.SMOKE_BUCKET, Key=key, Body=b"smoke")
    smoke.delete_object(Bucket=ss.SMOKE_BUCKET, Key=key)
    assert _denied(lambda: smoke.put_object(Bucket=ss.SMOKE_BUCKET, Key="outside-the-prefix", Body=b"x"))
    assert _denied(lambda: smoke.put_object(Bucket="nova-cdn-origin", Key=key, Body=b"x"))


def test_s3_web_identity_role_through_the_credential_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    from nova_gate import aws
    from nova_gate.sandbox import s3 as ss
    from nova_gate.testing import AWS_IDENTITY_VARIABLES

    for name in AWS_IDENTITY_VARIABLES:  # a key in the runner's environment would win over the token
        monkeypatch.delenv(name, raising=False)
    for name, value in ss.aws_environment(ss.CI_ROLE).items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    settings = aws.AwsSettings(region=ss.REGION, endpoint=ss.ENDPOINT)
    credentials = aws.session(settings).get_credentials()
    assert credentials.method == "assume-role-with-web-identity" and credentials.token
    ci = aws.client("s3", settings)
    ci.head_bucket(Bucket="nova-media")
    assert _denied(lambda: ci.put_object(Bucket="nova-media", Key="smoke/x", Body=b"x"))


def test_s3_wrong_secret_and_unknown_key_are_refused() -> None:
    from nova_gate import aws
    from nova_gate.sandbox import s3 as ss

    key, _ = ss.profile_keys(ss.GATES)
    for key_id, secret in ((key, "wrong-secret-for-the-proof"), ("AKIANOSUCHKEY0000000", "x")):
        settings = aws.AwsSettings(
            region=ss.REGION, endpoint=ss.ENDPOINT, access_key_id=key_id, secret_access_key=secret
        )
        assert _denied(lambda s=settings: aws.client("s3", s).head_bucket(Bucket="nova-media"))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning", "ignore::ResourceWarning")
@pytest.mark.parametrize("case", ["wrong-password", "unknown-user"])
def test_kafka_source_fails_a_refused_login_at_once(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The brokers answer a refused SCRAM login with SASL_AUTHENTICATION_FAILED at once: the gates'
    source says so at once too, not after its bootstrap timeout (``timeout_s``, 10 s here), and the
    right identity still gets in afterwards in the same process."""
    import gc
    import time

    from nova_gate.backends.base import SourceError
    from nova_gate.backends.kafka.source import KafkaSource

    secret = f"wrong-kafka-{case}-secret"
    monkeypatch.setenv("NOVA_GATE_KAFKA_PASSWORD", secret)
    cfg = _env().backends.kafka
    assert cfg is not None and cfg.timeout_s >= 5
    if case == "unknown-user":
        cfg = cfg.model_copy(update={"username": "nobody-i12"})
    started = time.monotonic()
    source = KafkaSource(cfg)
    try:
        with pytest.raises(SourceError) as info:
            source.brokers()
    finally:
        source.close()
    elapsed = time.monotonic() - started
    text = str(info.value)
    assert elapsed < 3, f"{case}: {elapsed:.2f}s: {text}"
    assert info.value.kind == "unauthorised" and "\n" not in text and secret not in text, text
    assert "Authentication failed" in text and "SCRAM-SHA-512" in text, text
    monkeypatch.delenv("NOVA_GATE_KAFKA_PASSWORD")
    good = KafkaSource(_env().backends.kafka)
    try:
        assert len(good.brokers()) == 3
    finally:
        good.close()
    gc.collect()


# -- every gate of these backends with only the gates' identities; wrong credentials in one line ----
BACKEND_ITEMS = ["PRE-INF-4", "PRE-CFG-5", "P24-5", "IMG-1", "IMG-2", "IMG-3", "P24-10", "PRE-CFG-4"]


def test_kafka_registry_s3_gates_pass_with_the_gates_identities(gate_run: Any) -> None:
    run = gate_run(BACKEND_ITEMS, "--env=sandbox")
    assert run.labels() == dict.fromkeys(BACKEND_ITEMS, "PASS"), run.explain()


@pytest.mark.parametrize(
    "case",
    ["kafka-wrong-password", "kafka-untrusted-ca", "registry-wrong-password", "s3-wrong-secret", "s3-unknown-key"],
)
def test_wrong_credentials_are_one_line_fails(
    case: str, gate_run: Any, env_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from nova_gate.sandbox import s3 as ss
    from nova_gate.sandbox.pki import untrusted_ca

    backend = case.split("-")[0]
    item = {"kafka": "PRE-INF-4", "registry": "IMG-1", "s3": "PRE-CFG-4"}[backend]
    secret = f"wrong-{case}-secret"
    changes: dict[str, Any] = {}
    if case == "kafka-wrong-password":
        monkeypatch.setenv("NOVA_GATE_KAFKA_PASSWORD", secret)
    elif case == "kafka-untrusted-ca":
        changes["backends.kafka.ssl_cafile"] = str(untrusted_ca().ensure())
    elif case == "registry-wrong-password":
        monkeypatch.setenv("NOVA_GATE_REGISTRY_PASSWORD", secret)
    else:
        key = ss.profile_keys(ss.GATES)[0] if case == "s3-wrong-secret" else "AKIANOSUCHKEY0000000"
        monkeypatch.setenv("NOVA_GATE_S3_SECRET", secret)
        changes["backends.s3.access_key_id"] = key
        changes["backends.s3.secret_access_key"] = "${NOVA_GATE_S3_SECRET}"
    started = time.monotonic()
    run = gate_run([item], env_file=env_file(changes), timeout=180)
    elapsed = time.monotonic() - started
    assert run.labels() == {item: "FAIL"}, run.explain()
    reasons = run.decision["reasons"][item]
    assert reasons and all("\n" not in r for r in reasons), reasons
    text = " ".join(reasons)
    assert backend in text, text
    # the refused SCRAM login too: the broker sends its answer as it closes the connection, and
    # kafka-python used to drop it (nova_gate/kafka_compat.py), leaving a bootstrap timeout
    want = "TLS" if case.endswith("untrusted-ca") else "unauthorised"
    assert want in text, text
    assert secret not in run.output and "Traceback" not in run.output
    assert elapsed < 120, f"{case}: {elapsed:.0f}s"


# -- OpenSearch (the security plugin) -----------------------------------------------------------------
SEARCH_ITEMS = ["PRE-INF-6"]  # the items that read the search cluster (checks/test_search.py)


def test_search_gates_identity_is_the_monitor_user_over_verified_https() -> None:
    cfg = _env().backends.search
    assert cfg is not None and cfg.url.startswith("https://") and cfg.tls is not None and cfg.tls.ca_file
    from nova_gate.sandbox import identities

    assert cfg.username == identities.SEARCH_GATES.user != identities.SEARCH_ADMIN.user
    raw = (ROOT / "environments" / "sandbox.yaml").read_text()
    assert "${NOVA_GATE_SEARCH_PASSWORD" in raw  # a reference, never the secret alone


def test_search_gates_pass_with_the_gates_identity(gate_run: Any) -> None:
    run = gate_run(SEARCH_ITEMS, "--env=sandbox")
    assert run.labels() == dict.fromkeys(SEARCH_ITEMS, "PASS"), run.explain()


@pytest.mark.parametrize("case", ["wrong-password", "unknown-user", "no-credentials", "untrusted-ca",
                                  "system-trust-store", "plaintext"])
def test_search_wrong_credentials_fail_fast_in_one_line(
    case: str, gate_run: Any, env_file: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from nova_gate.sandbox.pki import untrusted_ca

    secret = f"wrong-search-{case}-secret"
    changes: dict[str, Any] = {}
    if case == "wrong-password":
        monkeypatch.setenv("NOVA_GATE_SEARCH_PASSWORD", secret)
    elif case == "unknown-user":
        monkeypatch.setenv("NOVA_GATE_SEARCH_PASSWORD", secret)
        changes["backends.search.username"] = "nobody-i12"
    elif case == "no-credentials":
        changes["backends.search.username"] = None
        changes["backends.search.password"] = None
    elif case == "untrusted-ca":
        changes["backends.search.tls"] = {"ca_file": str(untrusted_ca().ensure())}
    elif case == "system-trust-store":
        changes["backends.search.tls"] = None  # the sandbox CA is in no system store
    else:
        from nova_gate.testing import sandbox_document

        url = sandbox_document(ROOT)["backends"]["search"]["url"]
        changes["backends.search.url"] = url.replace("https://", "http://")
        changes["backends.search.tls"] = None
    started = time.monotonic()
    run = gate_run(SEARCH_ITEMS, env_file=env_file(changes), timeout=120)
    elapsed = time.monotonic() - started
    assert run.labels() == dict.fromkeys(SEARCH_ITEMS, "FAIL"), run.explain()
    reasons = run.decision["reasons"]["PRE-INF-6"]
    assert reasons and all("\n" not in r for r in reasons), reasons
    text = " ".join(reasons)
    assert "search" in text, text
    if case in ("untrusted-ca", "system-trust-store"):
        assert "TLS" in text and "certificate verify failed" in text, text
    elif case != "plaintext":
        assert "unauthorised" in text and "401" in text, text
    assert secret not in run.output and "Traceback" not in run.output
    assert elapsed < 30, f"{case}: {elapsed:.1f}s"
