"""Start-up imports only what the configured features need.

Each case loads a config and starts the server as `ogmux serve` does (checks, build, the corpus
loaded or the store's code), in a fresh interpreter, and reads `sys.modules`: a heavy package that a feature needs must not be imported when the feature is
off, and must still be imported at start-up when it is on (so a broken install stops start-up, not
the first call).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# What starting a server imports: the `serve` command's module, the settings, the server and its start-up line;
# with a third argument, also the first search, asked by the MCP client in memory.
_BUILD = """
import json, sys
from pathlib import Path
import ogmux.server.commands.serve
from ogmux.server.app import build_server
from ogmux.server.settings import load_settings
from ogmux.server.startup import check_settings, startup_line
settings = load_settings(Path(sys.argv[1]))
check_settings(settings)
server = build_server(settings, transport=sys.argv[2])
startup_line(server, None, sys.argv[2])
if sys.argv[3:]:
    import anyio, mcp

    async def first_search():
        async with mcp.Client(server) as client:
            result = await client.call_tool("search_index", {"query": sys.argv[3], "k": 3})
            assert not result.is_error and result.structured_content["entries"], result.content

    anyio.run(first_search)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""

# Never needed to build a server (they load with the call, command or benchmark that uses them).
NEVER = {"anthropic", "bm25s", "httpx", "matplotlib", "numba", "onnx", "openai", "scipy", "sklearn", "torch", "wordllama"}
STORE = 'objectgraph = { store = "postgresql://ogmux@127.0.0.1:1/none" }'


def _run(code: str, *args: str, env: dict[str, str] | None = None) -> set[str]:
    """Top-level packages in `sys.modules` after `code` (which prints them) runs in a fresh interpreter."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OGMUX_")}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, timeout=120, check=False, cwd="/", env={**clean, **(env or {})},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(json.loads(proc.stdout.splitlines()[-1]))


def imported(
    tmp_path: Path, toml: str, transport: str = "http", env: dict[str, str] | None = None, search: str = ""
) -> set[str]:
    """Top-level packages in `sys.modules` after starting a server from `toml` in a fresh interpreter (and, given
    `search`, answering that first search)."""
    config = tmp_path / "ogmux.toml"
    config.write_text(toml + "\n[audit]\nsink = \"off\"\n", encoding="utf-8")
    return _run(_BUILD, str(config), transport, *([search] if search else []), env=env)


def test_the_command_line_loads_no_engine_before_a_command_needs_one() -> None:
    code = "import json, sys; import ogmux.server.cli; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    assert not _run(code) & (NEVER | {"highspy", "jwt", "mcp", "numpy", "psycopg", "redis"})


def test_a_store_replica_loads_no_search_index_router_redis_or_jwt(tmp_path: Path) -> None:
    mods = imported(tmp_path, STORE)
    assert {"psycopg", "psycopg_pool"} <= mods  # the configured store's driver and pool
    assert not mods & (NEVER | {"redis", "jwt"})


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_the_default_server_loads_no_optional_engine(tmp_path: Path, transport: str) -> None:
    assert not imported(tmp_path, "", transport) & (NEVER | {"redis", "jwt", "psycopg", "psycopg_pool"})


def test_a_server_serving_its_corpus_from_memory_never_loads_the_store_driver(tmp_path: Path) -> None:
    mods = imported(tmp_path, "", "http", search="rotate a token")
    assert not mods & {"psycopg", "psycopg_pool"}


def test_served_solver_tools_load_highs_at_start_up(tmp_path: Path) -> None:
    # Importing the HiGHS runner silences HiGHS's banner by redirecting fds 1 and 2 for a moment:
    # done while serving, it could swallow a stdio MCP message, so it stays a start-up import.
    assert "highspy" in imported(tmp_path, "", "stdio")


def test_configured_shared_state_and_jwt_still_load_at_start_up(tmp_path: Path) -> None:
    toml = (
        '[state]\nurl = "redis://127.0.0.1:1/0"\n'
        '[jwt]\nenabled = true\nissuer = "https://issuer.example"\nalgorithms = ["HS256"]\nsecret_env = "LAZY_TEST_SECRET"'
    )
    mods = imported(tmp_path, toml, env={"LAZY_TEST_SECRET": "s" * 32})
    assert {"redis", "jwt"} <= mods
