"""compose.yaml and examples/haproxy.cfg against today's settings: what the replicas are given is valid and
takes effect, the ports agree, and haproxy waits for the longest call before retrying it elsewhere.

tests/image runs a replica from the built image as compose.yaml runs it (`make image-test`).
"""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest
import yaml

from ogmux.router.config import RouterConfig
from ogmux.server.settings import Settings, load_settings
from ogmux.tools.solver.config import SolverConfig
from tests.integration.engines import HAPROXY
from tests.integration.procs import REPO

COMPOSE = REPO / "compose.yaml"
HAPROXY_CFG = REPO / "examples" / "haproxy.cfg"
_VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def compose_ogmux(values: dict[str, str]) -> dict[str, Any]:
    """compose.yaml's ogmux service, its environment's ${NAME:-default} and ${NAME:?message} taken from `values`."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.groups()
        if values.get(name):
            return values[name]
        if op == "?":
            raise AssertionError(f"compose.yaml needs {name} set: {arg}")
        return arg if op == "-" else ""

    service = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["ogmux"]
    service["environment"] = {k: _VARIABLE.sub(one, str(v)) for k, v in service["environment"].items()}
    return service


def _haproxy_seconds(value: str) -> float:
    """A haproxy time (a bare number is milliseconds)."""
    number, unit = re.fullmatch(r"(\d+)([a-z]*)", value).groups()
    return int(number) * _UNITS[unit or "ms"]


def test_every_setting_compose_gives_the_replicas_exists_and_takes_effect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = Settings()
    env = compose_ogmux({"POSTGRES_PASSWORD": "secret", "AUDIT_KEY": "ab" * 32})["environment"]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(REPO / "examples" / "ogmux.toml")  # docs/deploy.md starts from this file
    ogmux_vars = [name for name in env if name.startswith("OGMUX_")]
    assert ogmux_vars
    for name in ogmux_vars:
        section, key = name.removeprefix("OGMUX_").lower().split("__")
        assert getattr(getattr(settings, section), key) != getattr(getattr(defaults, section), key), name


def test_compose_haproxy_and_the_image_agree_on_the_replicas_port_and_config() -> None:
    service = compose_ogmux({"POSTGRES_PASSWORD": "secret", "AUDIT_KEY": "ab" * 32})
    command = service["command"]
    port = command[command.index("--port") + 1]
    assert [str(p) for p in service["expose"]] == [port]
    assert re.search(rf"^\s*server-template ogmux \d+ ogmux:{port}$", HAPROXY_CFG.read_text(), re.MULTILINE)
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert f"EXPOSE {port}\n" in dockerfile and f"127.0.0.1:{port}/healthz" in dockerfile
    config = command[command.index("--config") + 1]
    assert any(volume.split(":")[1] == config for volume in service["volumes"]), service["volumes"]


def test_haproxy_accepts_the_example_config() -> None:
    if not HAPROXY.exists():
        pytest.fail(f"{HAPROXY} is not installed; `make services` installs it")
    checked = subprocess.run(
        [str(HAPROXY), "-c", "-q", "-f", str(HAPROXY_CFG)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr or checked.stdout


def test_haproxy_waits_for_the_longest_call_before_retrying_it_on_another_replica() -> None:
    # A response slower than `timeout server` is a response-timeout, which all-retryable-errors retries.
    text = HAPROXY_CFG.read_text(encoding="utf-8")
    assert re.search(r"^\s*retry-on all-retryable-errors$", text, re.MULTILINE)
    server = _haproxy_seconds(re.search(r"^\s*timeout server (\S+)$", text, re.MULTILINE)[1])
    assert server > SolverConfig().max_time_s
    assert server > RouterConfig().request_timeout_s
