"""The kubernetes client's own bug on a transport failure: it decodes the body of the ApiException it
raises (status 0, no body) and raises AttributeError instead. Seen with the fault matrix's "empty"
mode (a listener that accepts and closes): the source must say 'no answer' in one line, and mark the
backend down, not crash the check (or, from the probe, every check)."""

from __future__ import annotations

from typing import Any

import pytest

from nova_gate.backends.base import SourceError
from nova_gate.backends.kubernetes.config import Kubernetes
from nova_gate.backends.kubernetes.source import KubernetesSource
from nova_gate.probe import _each


def _client_bug(*_: Any, **__: Any) -> Any:
    from kubernetes.client.exceptions import ApiException

    try:
        raise ApiException(status=0, reason="SSLError\n[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred")
    except ApiException as e:
        e.body.decode("utf-8")  # what kubernetes.client.api_client does; body is None


def test_a_transport_failure_is_no_answer_not_a_crash() -> None:
    source = KubernetesSource(Kubernetes())
    with pytest.raises(SourceError) as err:
        source._raw("list nodes", _client_bug)
    text = str(err.value)
    assert "no answer" in text and "EOF" in text and "\n" not in text
    assert err.value.unreachable
    with pytest.raises(SourceError, match="not retried"):
        source._raw("list pods", _client_bug)


def test_another_attribute_error_is_not_hidden() -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise AttributeError("a bug of ours")

    with pytest.raises(AttributeError):
        KubernetesSource(Kubernetes())._raw("list nodes", broken)


def test_a_crashing_probe_does_not_escape() -> None:
    calls: list[int] = []

    def crash(item: int) -> None:
        calls.append(item)
        raise AttributeError("'NoneType' object has no attribute 'decode'")

    _each([1, 2, 3], crash)
    _each([4], crash)
    assert sorted(calls) == [1, 2, 3, 4]
