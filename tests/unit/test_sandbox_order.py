"""The sandbox's start order comes from the components' ``requires``: a topological order."""

from __future__ import annotations

import itertools
import random

import pytest

from nova_gate.sandbox import manager
from nova_gate.sandbox.base import SandboxError


def test_the_real_components_start_after_what_they_require() -> None:
    order = manager._selected(None)
    for name in order:
        for need in manager.component_class(name).requires:
            assert order.index(need) < order.index(name), f"{name} starts before {need}"
    assert set(order) == set(manager.available())


def test_up_only_brings_up_what_it_requires() -> None:
    up = manager._selected(["prometheus"], with_requirements=True)
    assert up[-1] == "prometheus" and {"simulator", "postgres", "redis"} <= set(up)
    assert manager._selected(["prometheus"]) == ["prometheus"]  # down/status: only what was named


@pytest.mark.parametrize("seed", range(30))
def test_random_graphs_give_a_topological_order_or_name_the_cycle(seed: int) -> None:
    rng = random.Random(seed)
    names = [f"c{i}" for i in range(rng.randint(2, 9))]
    requires = {n: tuple(m for m in names if m != n and rng.random() < 0.25) for n in names}
    pick = rng.sample(names, rng.randint(1, len(names)))

    def reach(n: str) -> set[str]:
        seen, todo = set(), [n]
        while todo:
            for m in requires[todo.pop()]:
                if m not in seen:
                    seen.add(m)
                    todo.append(m)
        return seen

    cyclic = any(n in reach(n) for n in set(pick).union(*(reach(p) for p in pick)))
    if cyclic:
        with pytest.raises(SandboxError, match=r"cycle: (c\d+ -> )+c\d+"):
            manager.start_order(requires, pick)
        return
    order = manager.start_order(requires, pick)
    assert set(order) == set(pick).union(*(reach(p) for p in pick))
    for a, b in itertools.permutations(order, 2):
        if b in requires[a]:
            assert order.index(b) < order.index(a)


def test_an_unknown_requirement_and_a_cycle_are_errors() -> None:
    with pytest.raises(SandboxError, match=r"simulator requires unknown component.*: postgress"):
        manager.start_order({"simulator": ("postgress",)})
    with pytest.raises(SandboxError, match="cycle: a -> b -> a"):
        manager.start_order({"a": ("b",), "b": ("a",)})
    # ties keep the table's order
    assert manager.start_order({"x": (), "y": (), "z": ("x",)}) == ["x", "y", "z"]
