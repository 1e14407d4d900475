"""The registry: built-ins and plugins register and resolve the same way."""

from __future__ import annotations

import pytest

from switchtower.errors import RegistryError
from switchtower.registry import Registry


class Thing:
    def __init__(self, size: int = 1) -> None:
        self.size = size


def other_thing() -> Thing:
    return Thing(size=2)


def test_register_and_create_with_options() -> None:
    reg: Registry[Thing] = Registry("things")
    reg.register("thing")(Thing)
    made = reg.create("thing", size=3)
    assert isinstance(made, Thing)
    assert made.size == 3
    assert "thing" in reg
    assert reg.names() == ["thing"]


def test_unknown_name_lists_known_ones() -> None:
    reg: Registry[Thing] = Registry("things")
    reg.add("a", Thing)
    with pytest.raises(RegistryError, match=r"unknown things 'b' \(known: a\)"):
        reg.get("b")


def test_bad_options_are_a_registry_error_showing_only_the_options() -> None:
    reg: Registry[Thing] = Registry("things")
    reg.add("a", lambda config, size=1: Thing(size))
    with pytest.raises(RegistryError, match=r"bad options \{'colour': 'red'\}: ") as bad:
        reg.create("a", config="<the whole config>" * 1000, colour="red")
    assert "<the whole config>" not in str(bad.value)


def test_a_name_cannot_be_taken_twice() -> None:
    reg: Registry[Thing] = Registry("things")
    reg.add("a", Thing)
    reg.add("a", Thing)  # the same factory again is harmless
    with pytest.raises(RegistryError, match="already registered"):
        reg.add("a", other_thing)
