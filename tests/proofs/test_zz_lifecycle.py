"""Runs last: the whole sandbox goes down leaving no process and no listener, and comes back healthy."""

from __future__ import annotations

import time

from nova_gate.sandbox import manager, ports
from nova_gate.sandbox.base import pid_alive, port_open


def test_down_leaves_nothing_and_up_is_healthy_again():
    before = manager.status()
    pids = [pid for st in before.values() for pid in st["pids"]]
    manager.down(log=lambda *_: None)
    listening = [p for p in ports.all_ports() if port_open(p)]
    alive = [p for p in pids if pid_alive(p)]
    assert not listening, f"ports still listening after down: {listening}"
    assert not alive, f"processes still alive after down: {alive}"
    started = time.monotonic()
    manager.up(log=lambda *_: None)
    status = manager.status()
    elapsed = time.monotonic() - started
    unhealthy = {n: s["detail"] for n, s in status.items() if not s["healthy"]}
    assert not unhealthy, unhealthy
    print(f"warm sandbox start: {elapsed:.1f}s for {len(status)} components")
