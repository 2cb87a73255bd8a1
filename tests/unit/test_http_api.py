"""The one HTTP transport (nova_gate.backends.http_api) on httpx.MockTransport: the status table,
absent vs error, the auth hook, and every HTTP source built on it."""

from __future__ import annotations

import random

import httpx
import pytest
from pydantic import SecretStr

from nova_gate.backends.alertmanager.config import Alertmanager
from nova_gate.backends.alertmanager.source import AlertmanagerSource
from nova_gate.backends.base import SourceError
from nova_gate.backends.grafana.config import Grafana
from nova_gate.backends.grafana.source import GrafanaSource
from nova_gate.backends.http_api import ABSENT, ERROR, OK, UNAUTHORISED, HeaderAuth, HttpApiSource, status_class
from nova_gate.backends.prometheus.config import Prometheus
from nova_gate.backends.prometheus.source import PrometheusSource
from nova_gate.backends.registry.config import Registry
from nova_gate.backends.registry.source import RegistrySource
from nova_gate.backends.vault.config import Vault
from nova_gate.backends.vault.source import VaultSource


def client(handler):  # type: ignore[no-untyped-def]
    return httpx.Client(base_url="http://api.invalid", transport=httpx.MockTransport(handler))


def answering(status: int, body: object = None, text: str | None = None):  # type: ignore[no-untyped-def]
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body if body is not None else {})

    return handler


def test_the_status_table_on_every_code() -> None:
    for code in range(100, 600):
        kind = status_class(code)
        if code in (401, 403):
            assert kind == UNAUTHORISED
        elif code == 404:
            assert kind == "absent"
        elif 200 <= code < 300:
            assert kind == OK
        else:
            assert kind == ERROR, code


@pytest.mark.parametrize("code", [401, 403])
def test_unauthorised_is_an_error_that_says_so(code: int) -> None:
    src = HttpApiSource("http://api.invalid", timeout_s=1, client=client(answering(code)))
    with pytest.raises(SourceError, match=f"unauthorised \\(HTTP {code}\\)"):
        src.get_json("/x")


@pytest.mark.parametrize("code", [500, 502, 503, 504, 400, 418, 301])
def test_server_errors_and_surprises_are_errors(code: int) -> None:
    src = HttpApiSource("http://api.invalid", timeout_s=1, client=client(answering(code, text="boom\nagain")))
    with pytest.raises(SourceError, match=f"HTTP {code}: boom again"):
        src.get("/x")


def test_absent_is_data_not_an_error_and_is_falsy() -> None:
    src = HttpApiSource("http://api.invalid", timeout_s=1, client=client(answering(404)))
    answer = src.get_json("/x")
    assert answer is ABSENT and not answer and repr(answer) == "ABSENT"


def test_a_body_that_is_not_json_is_an_error() -> None:
    src = HttpApiSource("http://api.invalid", timeout_s=1, client=client(answering(200, text="<html>")))
    with pytest.raises(SourceError, match="not JSON: <html>"):
        src.get_json("/x")


def test_a_transport_failure_is_an_unreachable_source_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    src = HttpApiSource("http://api.invalid", timeout_s=1, client=client(handler))
    with pytest.raises(SourceError) as caught:
        src.get("/x")
    assert caught.value.unreachable


def test_the_auth_hook_is_the_only_place_credentials_are_set() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    mock = httpx.MockTransport(handler)
    src = HttpApiSource("http://api.invalid", timeout_s=1, auth=HeaderAuth("Authorization", "Token token=abc"))
    src._http = httpx.Client(base_url="http://api.invalid", transport=mock, auth=src._options["auth"])
    src.get("/x")

    def stamp(request: httpx.Request) -> httpx.Request:  # a plain callable works too
        request.headers["X-Stamp"] = "1"
        return request

    other = HttpApiSource("http://api.invalid", timeout_s=1, auth=stamp)
    other._http = httpx.Client(base_url="http://api.invalid", transport=mock, auth=stamp)
    other.get("/y")
    assert seen[0].headers["Authorization"] == "Token token=abc"
    assert seen[1].headers["X-Stamp"] == "1" and "Authorization" not in seen[1].headers


def test_each_http_source_maps_random_statuses_through_the_one_table() -> None:
    """Whatever the code, every source either answers (2xx, 404 as absent) or raises one SourceError."""
    rng = random.Random(11)
    makers = {
        "grafana": lambda c: GrafanaSource(Grafana(url="http://g", token=SecretStr("t")), client=c).dashboards(["d"]),
        "vault": lambda c: VaultSource(Vault(url="http://v", token=SecretStr("t")), client=c).secret_updated(["p"]),
        "prometheus": lambda c: PrometheusSource(Prometheus(url="http://p"), client=c).targets(),
        "alertmanager": lambda c: AlertmanagerSource(Alertmanager(url="http://a"), client=c).alerts(),
        "registry": lambda c: RegistrySource(Registry(url="http://r"), client=c).tags("nova-x"),
    }
    for name, make in makers.items():
        for code in rng.sample([200, 204, 301, 400, 401, 403, 404, 409, 429, 500, 502, 503], 8):
            kind = status_class(code)
            try:
                make(client(answering(code)))
            except SourceError as exc:
                strict_api = name in ("prometheus", "alertmanager")  # a 404 or {} is not their API
                no_body = kind == OK and name == "registry" and code != 200  # a tag list needs its body
                allowed = kind in (UNAUTHORISED, ERROR) or (kind in ("absent", OK) and strict_api) or no_body
                assert allowed, (name, code, exc)
                assert exc.backend == name
                if kind == UNAUTHORISED:
                    assert "unauthorised" in str(exc)
            else:
                assert kind in (OK, "absent"), (name, code)


def test_a_missing_dashboard_and_secret_are_data_for_the_rule() -> None:
    g = GrafanaSource(Grafana(url="http://g"), client=client(answering(404)))
    assert g.dashboards(["a", "b"]) == {"a": None, "b": None}
    v = VaultSource(Vault(url="http://v"), client=client(answering(404)))
    assert v.secret_updated(["p"]) == {"p": None}
