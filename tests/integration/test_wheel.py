"""The built wheel, installed into a fresh venv, serves its bundled demo data from any directory.

The wheel is built with `pip wheel --no-deps --no-build-isolation` (no download) from a copy of the sources (setuptools' build/ directory
in the checkout could hold stale files) and installed with `--no-deps` into a new venv. Its
dependencies are not downloaded again: a `.pth` line puts the test environment's site-packages on
the new venv's path *after* its own, as a plain directory (its `.pth` files, among them the
editable install of this checkout, are not run). Every `ogmux` module and data file then comes
from the installed wheel, which the test checks.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import mcp
import pytest
from mcp import StdioServerParameters

REPO = Path(__file__).resolve().parents[2]
SOURCES = ["pyproject.toml", "README.md", "ogmux", "server", "tools", "router", "evaluators"]


def _run(cmd: list[str], cwd: Path | str = "/", timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OGMUX_", "PYTHON"))}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of a fresh venv holding the wheel of this checkout."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, src / name)
    # The test environment's setuptools builds it: an isolated build would download one from the index.
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(root), str(src)])
    [wheel] = root.glob("ogmux-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "zz-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel)])
    located = _run([str(python), "-c", "import ogmux.demo, ogmux.server; print(ogmux.demo.CORPUS, ogmux.server.__file__)"])
    assert all(p.startswith(str(site)) for p in located.stdout.split()), located.stdout
    return env_dir / "bin"


def test_the_wheel_holds_one_top_level_package_and_the_demo_data(installed: Path) -> None:
    [wheel] = installed.parent.parent.glob("ogmux-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"ogmux", "ogmux-0.1.0.dist-info"}
    assert "ogmux/demo/corpus/ogmux-runbook.og" in names
    assert "ogmux/demo/safety/radsafe-synthetic/datasets/risk_radiorag_full_merged.json" in names
    assert sum(n.startswith("ogmux/demo/safety/radsafe-synthetic/phase4_checking_results/") for n in names) == 3
    # The documented settings example is a copy of examples/ogmux.toml, not the link the checkout holds.
    example = zipfile.ZipFile(wheel).read("ogmux/demo/ogmux.toml").decode()
    assert example == (REPO / "examples" / "ogmux.toml").read_text(encoding="utf-8")


def test_the_wheel_holds_every_module_of_the_sources(installed: Path) -> None:
    """A subpackage missing from pyproject's package list would be left out of the wheel."""
    [wheel] = installed.parent.parent.glob("ogmux-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    folders = {"ogmux": "ogmux", "server": "ogmux/server", "tools": "ogmux/tools", "router": "ogmux/router",
               "evaluators": "ogmux/evaluators"}
    sources = {f"{folders[p.parts[0]]}/{Path(*p.parts[1:]).as_posix()}"
               for folder in folders for p in (q.relative_to(REPO) for q in (REPO / folder).rglob("*.py"))
               if "__pycache__" not in p.parts}
    assert sources - names == set()


def test_index_from_the_root_directory(installed: Path) -> None:
    proc = _run([str(installed / "ogmux"), "index", "--stats-only"])
    assert "documents: 4" in proc.stdout
    assert proc.stderr == ""
    example = _run([str(installed / "ogmux"), "config", "example"])
    assert example.stdout == (REPO / "examples" / "ogmux.toml").read_text(encoding="utf-8")


async def test_stdio_mcp_calls_from_the_root_directory(installed: Path) -> None:
    params = StdioServerParameters(command=str(installed / "ogmux"), args=["serve"], cwd="/",
                                   env={"PATH": os.environ.get("PATH", ""), "OGMUX_AUDIT__SINK": "off"})
    async with mcp.Client(params) as client:
        found = await client.call_tool("search_index", {"query": "rotate a token", "k": 3})
        assert not found.is_error, found.content
        assert found.structured_content["entries"][0]["doc"] == "ogmux-runbook"
        report = await client.call_tool("safety_report", {"run": "radsafe-synthetic"})
        assert not report.is_error, report.content
        assert set(report.structured_content["models"]) == {"toy-large", "toy-medium", "toy-small"}
