"""Third-party components arrive through entry points, one group per registry."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from switchtower import registries
from switchtower.errors import RegistryError
from switchtower.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
REGISTRIES: list[Registry[object]] = [getattr(registries, name) for name in registries.__all__]


def _install_plugin(site: Path, module: str, groups: list[str]) -> None:
    """An installed distribution as pip leaves one: a module and a dist-info with
    ``entry_points.txt``, in a directory on ``sys.path``."""
    (site / f"{module}.py").write_text(
        "class Made:\n    def __init__(self, **options):\n        self.options = options\n\n"
        "def factory(**options):\n    return Made(**options)\n",
        encoding="utf-8",
    )
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n", encoding="utf-8"
    )
    sections = "".join(f"[{group}]\nthird = {module}:factory\n\n" for group in groups)
    (info / "entry_points.txt").write_text(sections, encoding="utf-8")


def test_every_registry_loads_a_component_from_its_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = "switchtower_test_plugin"
    _install_plugin(tmp_path, module, [f"switchtower.{reg.kind}" for reg in REGISTRIES])
    monkeypatch.syspath_prepend(str(tmp_path))
    for reg in REGISTRIES:
        # a fresh view of each registry, so the real ones stay as the other tests see them
        monkeypatch.setattr(reg, "_entry_points_loaded", False)
        monkeypatch.setattr(reg, "_entry_points", {})
        monkeypatch.setattr(reg, "_factories", dict(reg._factories))
        made = reg.create("third", colour="red")
        assert type(made).__module__ == module, reg.kind
        assert made.options == {"colour": "red"}  # type: ignore[attr-defined]
    monkeypatch.delitem(sys.modules, module, raising=False)


def test_a_broken_plugin_is_named_and_does_not_break_its_neighbours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = "switchtower_test_plugin_ok"
    _install_plugin(tmp_path, module, ["switchtower.classifiers"])
    info = tmp_path / "broken_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[switchtower.classifiers]\nbroken = not_installed:X\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = registries.classifiers
    monkeypatch.setattr(reg, "_entry_points_loaded", False)
    monkeypatch.setattr(reg, "_entry_points", {})
    monkeypatch.setattr(reg, "_factories", dict(reg._factories))
    assert {"broken", "third"} <= set(reg.names())  # listed without importing them
    assert type(reg.create("third")).__module__ == module
    with pytest.raises(RegistryError, match=r"'broken': its entry point 'not_installed:X' failed"):
        reg.get("broken")
    monkeypatch.delitem(sys.modules, module, raising=False)


def test_each_group_name_is_a_valid_entry_point_group() -> None:
    for reg in REGISTRIES:
        assert re.fullmatch(r"[a-z][a-z_]*", reg.kind), reg.kind


def test_the_readme_names_every_entry_point_group() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = re.search(r"point group `switchtower\.<kind>` \(([^)]*)\)", readme)
    assert listed is not None
    named = set(re.findall(r"`([a-z_]+)`", listed.group(1)))
    assert named == {reg.kind for reg in REGISTRIES}
