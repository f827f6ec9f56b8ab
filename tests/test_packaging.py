"""The distribution installs one import package, `ogmux`, holding every source package of the tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_source_package_is_listed_under_ogmux() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    dirs = setuptools["package-dir"]
    on_disk = {"ogmux"}
    for name, folder in dirs.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder)
            on_disk.add(".".join([name, *rel.parts]))
    assert sorted(on_disk - set(setuptools["packages"])) == [], "add these to [tool.setuptools].packages"
    def folder(package: str) -> Path:
        top = max((n for n in dirs if package == n or package.startswith(n + ".")), key=len)
        return REPO / dirs[top] / Path(*package[len(top):].split(".")[1:])

    missing = [p for p in setuptools["packages"] if not folder(p).is_dir()]
    assert missing == [], "listed but not on disk"


def test_nothing_but_ogmux_is_top_level() -> None:
    setuptools = _pyproject()["tool"]["setuptools"]
    assert {p.split(".")[0] for p in setuptools["packages"]} == {"ogmux"}
    assert _pyproject()["project"]["scripts"]["ogmux"].startswith("ogmux.")
