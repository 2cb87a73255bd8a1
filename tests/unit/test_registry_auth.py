"""Registry authentication without a registry: the challenge parser, the token flow, ECR's token."""

from __future__ import annotations

import base64
import json
import random
import string
from typing import Any

import httpx
import pytest

from nova_gate.backends.registry.auth import (
    EcrAuth,
    RegistryAuthError,
    RegistryTokenAuth,
    ecr_basic_credentials,
    ecr_region,
    parse_challenge,
)


def test_parse_challenge_documented_example() -> None:
    # the example of https://distribution.github.io/distribution/spec/auth/token/
    header = (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:samalba/my-app:pull,push"'
    )
    challenge = parse_challenge(header)
    assert challenge is not None and challenge.scheme == "bearer"
    assert challenge.params == {
        "realm": "https://auth.docker.io/token",
        "service": "registry.docker.io",
        "scope": "repository:samalba/my-app:pull,push",
    }


def test_parse_challenge_random_orders_and_spacing() -> None:
    rng = random.Random(12)
    for _ in range(300):
        params = {
            "realm": "https://" + "".join(rng.choices(string.ascii_lowercase, k=8)) + ".test/token",
            "service": "".join(rng.choices(string.ascii_lowercase + ".-", k=10)),
            "scope": f"repository:{''.join(rng.choices(string.ascii_lowercase + '/-', k=12))}:pull",
        }
        items = list(params.items())
        rng.shuffle(items)
        sep = rng.choice([",", ", ", " ,  "])
        header = rng.choice(["Bearer", "bearer", "BEARER"]) + " " + sep.join(f'{k}="{v}"' for k, v in items)
        challenge = parse_challenge(header)
        assert challenge is not None and challenge.scheme == "bearer" and challenge.params == params


def test_parse_challenge_basic_and_empty() -> None:
    basic = parse_challenge('Basic realm="Registry Realm"')
    assert basic is not None and basic.scheme == "basic"
    assert parse_challenge("") is None


class FakeRegistry:
    """A registry (token auth, pull-only grant) and its token server behind one MockTransport."""

    def __init__(self, password: str = "pw", expires_in: int | None = 300) -> None:
        self.password = password
        self.expires_in = expires_in
        self.token_requests: list[httpx.Request] = []
        self.registry_requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            self.token_requests.append(request)
            expected = "Basic " + base64.b64encode(f"bot:{self.password}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return httpx.Response(401, json={"errors": [{"code": "UNAUTHORIZED"}]})
            scope = request.url.params.get("scope", "")
            token = "tok-" + scope.replace(",push", "")  # pull only, whatever was asked
            body: dict[str, Any] = {"token": token}
            if self.expires_in is not None:
                body["expires_in"] = self.expires_in
            return httpx.Response(200, json=body)
        self.registry_requests.append(request)
        repo = request.url.path.split("/")[2]
        need = "pull" if request.method in ("GET", "HEAD") else "pull,push"
        scope = f"repository:{repo}:{need}"
        if request.headers.get("Authorization") == "Bearer tok-" + scope:
            return httpx.Response(200, json={"tags": ["v1"]})
        challenge = f'Bearer realm="https://auth.test/token",service="reg.test",scope="{scope}"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})


def client(fake: FakeRegistry, password: str = "pw") -> httpx.Client:
    return httpx.Client(
        base_url="https://reg.test",
        transport=httpx.MockTransport(fake.handler),
        auth=RegistryTokenAuth("bot", password),
    )


def test_token_flow_pull_and_cache() -> None:
    fake = FakeRegistry()
    with client(fake) as http:
        for _ in range(3):
            assert http.get("/v2/nova-a/tags/list").status_code == 200
    assert len(fake.token_requests) == 1  # cached for the scope
    token_request = fake.token_requests[0]
    assert token_request.url.params["service"] == "reg.test"
    assert token_request.url.params["scope"] == "repository:nova-a:pull"
    # the password never goes to the registry itself, only to the token server
    assert all("Basic" not in r.headers.get("Authorization", "") for r in fake.registry_requests)


def test_push_with_a_pull_only_grant_stays_refused_without_a_loop() -> None:
    fake = FakeRegistry()
    with client(fake) as http:
        assert http.put("/v2/nova-a/manifests/x", content=b"{}").status_code == 401
    assert len(fake.token_requests) == 1 and len(fake.registry_requests) == 2


def test_wrong_password_is_one_unauthorised_line_without_the_secret() -> None:
    fake = FakeRegistry()
    with client(fake, password="s3cr3t-wrong") as http, pytest.raises(RegistryAuthError) as caught:
        http.get("/v2/nova-a/tags/list")
    text = str(caught.value)
    assert text.startswith("unauthorised") and "s3cr3t" not in text and "\n" not in text


def test_token_answer_without_token_or_lifetime() -> None:
    fake = FakeRegistry(expires_in=None)
    with client(fake) as http:
        assert http.get("/v2/nova-b/tags/list").status_code == 200

    def no_token(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            return httpx.Response(200, json={"nothing": True})
        return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.test/t",service="s"'})

    http = httpx.Client(transport=httpx.MockTransport(no_token), auth=RegistryTokenAuth("bot", "pw"))
    with http, pytest.raises(RegistryAuthError, match="without a token"):
        http.get("https://reg.test/v2/")


def test_basic_challenge_gets_basic_credentials_once() -> None:
    seen: list[str] = []

    def basic(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization", ""))
        return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})

    http = httpx.Client(transport=httpx.MockTransport(basic), auth=RegistryTokenAuth("bot", "pw"))
    with http:
        assert http.get("https://reg.test/v2/").status_code == 401
    assert seen == ["", "Basic " + base64.b64encode(b"bot:pw").decode()]


# -- ECR --------------------------------------------------------------------------------------------
def test_ecr_host() -> None:
    assert ecr_region("123456789012.dkr.ecr.eu-west-1.amazonaws.com") == ("123456789012", "eu-west-1")
    assert ecr_region("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com:443") == ("123456789012", "us-east-1")
    assert ecr_region("ghcr.io") is None


def test_ecr_documented_answer() -> None:
    # the shape of GetAuthorizationToken's answer in the ECR API reference
    answer = {
        "authorizationData": [
            {
                "authorizationToken": base64.b64encode(b"AWS:eyJwYXlsb2FkIjoi").decode(),
                "proxyEndpoint": "https://012345678910.dkr.ecr.us-east-1.amazonaws.com",
            }
        ]
    }
    user, password, _ = ecr_basic_credentials(answer)
    assert (user, password) == ("AWS", "eyJwYXlsb2FkIjoi")
    with pytest.raises(RegistryAuthError):
        ecr_basic_credentials({"authorizationData": []})


def test_ecr_auth_against_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    moto = pytest.importorskip("moto")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    seen: list[str] = []

    def registry(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={"tags": []})

    with moto.mock_aws():
        auth = EcrAuth("eu-west-1", "123456789012")
        with httpx.Client(transport=httpx.MockTransport(registry), auth=auth) as http:
            http.get("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/nova-a/tags/list")
            http.get("https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/v2/nova-b/tags/list")
    assert len(set(seen)) == 1 and seen[0].startswith("Basic ")
    user = base64.b64decode(seen[0][6:]).decode().split(":")[0]
    assert user == "AWS"


def test_ecr_without_credentials_is_unauthorised(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    auth = EcrAuth("eu-west-1")
    with pytest.raises(RegistryAuthError, match="unauthorised: no AWS credentials"):
        auth.header()
    assert json.dumps(repr(auth))
