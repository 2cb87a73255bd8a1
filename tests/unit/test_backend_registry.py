"""The backend registry is the one table: every entry's parts import, agree on the name, and cover
the environment's ``backends:`` fields and the catalog's backend markers."""

from __future__ import annotations

import pytest

from nova_gate.backends import BACKENDS, MARKERS, fixture_backends, load
from nova_gate.backends.base import Source
from nova_gate.catalog import load_catalog
from nova_gate.config import Backends


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_an_entry_names_its_parts_and_they_agree(name: str) -> None:
    entry = BACKENDS[name]
    source = entry.source_class()
    assert issubclass(source, Source)
    assert source.backend == name, f"{entry.source} reports errors as {source.backend!r}, not {name!r}"
    assert entry.source.startswith(f"nova_gate.backends.{name}.source:")
    model = entry.config_model()
    for fld in entry.fields:
        assert Backends.model_fields[fld].annotation == model | None, fld


def test_every_backends_field_belongs_to_exactly_one_entry() -> None:
    owned = [fld for entry in BACKENDS.values() for fld in entry.fields]
    assert sorted(owned) == sorted(Backends.model_fields)


def test_every_marker_of_the_catalog_is_a_registered_backend() -> None:
    used = {b for item in load_catalog() for b in item.backends}
    assert used <= set(MARKERS)
    assert "elasticsearch" not in MARKERS  # one name: the package, the environment key and the marker


def test_fixture_names_are_unique_and_read_a_known_field() -> None:
    names = [fx for entry in BACKENDS.values() for fx in entry.fixtures]
    assert len(names) == len(set(names))
    for _fx, (entry, fld) in fixture_backends().items():
        assert fld in entry.fields or fld == "release"


def test_load_rejects_a_missing_attribute() -> None:
    with pytest.raises(AttributeError):
        load("nova_gate.backends.base:NoSuchThing")
