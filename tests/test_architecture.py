"""The dependency direction of ARCHITECTURE.md, enforced on every import statement.

The folders server/, tools/, router/ and evaluators/ install as ogmux.server, ogmux.tools, ...;
the names below are relative to `ogmux`, and `ogmux` itself (which exports Ogmux) counts as server.

server      -> tools.objectgraph, tools.solver, router, evaluators   (the only package importing mcp)
evaluators  -> router, tools.objectgraph
tools.objectgraph, tools.solver, router -> nothing internal
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INTERNAL = ("server", "tools", "router", "evaluators")

# package -> internal packages it may import (besides itself)
ALLOWED: dict[str, set[str]] = {
    "server": {"tools.objectgraph", "tools.solver", "router", "evaluators"},
    "evaluators": {"router", "tools.objectgraph"},
    "tools.objectgraph": set(),
    "tools.solver": set(),
    "router": set(),
}
FORBIDDEN_THIRD_PARTY = {"mcp", "mcp_types"}  # only server/ speaks the protocol


def _package_of(module: str) -> str | None:
    """The internal package of a module named relative to `ogmux` (a file's path), or None."""
    for pkg in sorted(ALLOWED, key=len, reverse=True):
        if module == pkg or module.startswith(pkg + "."):
            return pkg
    if module.split(".")[0] in INTERNAL:
        return module.split(".")[0]
    return None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _sources() -> list[Path]:
    files = []
    for top in ("server", "tools", "router", "evaluators"):
        files += sorted((REPO / top).rglob("*.py"))
    return files


def violations(files: list[Path], root: Path = REPO) -> list[str]:
    """Every import that breaks the dependency direction, as `file:line: message`."""
    bad = []
    for path in files:
        rel = path.relative_to(root)
        own = _package_of(".".join(rel.with_suffix("").parts))
        if own is None:
            continue
        for lineno, module in _imports(path):
            top = module.split(".")[0]
            if own != "server" and top in FORBIDDEN_THIRD_PARTY:
                bad.append(f"{rel}:{lineno}: {own} imports {module} (only server/ may import mcp)")
            if top in INTERNAL:
                bad.append(f"{rel}:{lineno}: imports {module} (import it as ogmux.{module})")
                continue
            if top != "ogmux":
                continue
            target = "server" if module == "ogmux" else _package_of(module.removeprefix("ogmux."))
            if target is None or target == own:
                continue
            if target not in ALLOWED[own]:
                bad.append(f"{rel}:{lineno}: {own} imports {module} ({own} may import {sorted(ALLOWED[own]) or 'nothing internal'})")
    return bad


def test_dependency_direction() -> None:
    assert violations(_sources()) == []


def test_domain_code_reads_no_environment_and_does_not_print() -> None:
    bad = []
    for path in _sources():
        rel = path.relative_to(REPO)
        if rel.parts[0] == "server":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                bad.append(f"{rel}:{node.lineno}: print()")
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"} and getattr(node.value, "id", "") == "os":
                bad.append(f"{rel}:{node.lineno}: os.{node.attr}")
    assert bad == []


@pytest.mark.parametrize(
    ("source", "path", "expected"),
    [
        ("import mcp\n", "router/x.py", "only server/ may import mcp"),
        ("from ogmux.server.app import build_server\n", "tools/objectgraph/x.py",
         "tools.objectgraph imports ogmux.server.app"),
        ("from ogmux.router.pool import Pool\n", "tools/solver/x.py", "tools.solver imports ogmux.router.pool"),
        ("from ogmux.evaluators.radsafe import x\n", "router/x.py", "router imports ogmux.evaluators.radsafe"),
        ("from ogmux import Ogmux\n", "router/x.py", "router imports ogmux"),
        ("from router.pool import Pool\n", "server/x.py", "import it as ogmux.router.pool"),
    ],
)
def test_the_checker_catches_violations(tmp_path: Path, source: str, path: str, expected: str) -> None:
    target = tmp_path / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source)
    assert any(expected in v for v in violations([target], tmp_path))


def test_allowed_imports_pass(tmp_path: Path) -> None:
    target = tmp_path / "evaluators" / "probe.py"
    target.parent.mkdir()
    target.write_text("from ogmux.router import x\nfrom ogmux.tools.objectgraph import y\nimport numpy\n")
    assert violations([target], tmp_path) == []
