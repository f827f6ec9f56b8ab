"""The container image, built from the Dockerfile with podman and run with buildah (chroot isolation).

`make image-test` runs this; `make test` leaves it out (a build takes minutes). With no registry to
pull `python:3.11-slim` from, the image builds on a Debian bookworm base made from the Debian archive
with mmdebstrap (cached in podman's store); `OGMUX_IMAGE_BASE` names another base. Chroot isolation
shares the host's network, so a replica in the image reaches Redis and PostgreSQL run on loopback
here, as compose.yaml's replicas reach theirs by service name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import httpx2
import mcp
import psycopg
import pytest
import redis
from mcp.client.streamable_http import streamable_http_client

from tests.integration.engines import postgres_server, redis_server
from tests.integration.procs import REPO, ogmux_started
from tests.test_deployment_files import compose_ogmux

pytestmark = pytest.mark.image

LOCAL_BASE = "localhost/debian-python:bookworm"
IMAGE = "localhost/ogmux:image-test"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _run(*cmd: str, timeout: float = 900) -> str:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc.stdout


def _base(tmp: Path) -> str:
    base = os.environ.get("OGMUX_IMAGE_BASE")
    if base:
        return base
    if subprocess.run(["podman", "image", "exists", LOCAL_BASE], check=False).returncode != 0:
        tar = tmp / "base.tar"
        _run("mmdebstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates,passwd",
             "bookworm", str(tar))  # fmt: skip
        _run("podman", "import", "-q", str(tar), LOCAL_BASE)
    return LOCAL_BASE


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("podman") is None or shutil.which("buildah") is None:
        pytest.fail("podman and buildah are needed: run `make image-test`, which installs them")
    base = _base(tmp_path_factory.mktemp("base"))
    cmd = ["podman", "build", "--isolation=chroot", "--format", "docker", "--build-arg", f"BASE={base}",
           "-t", IMAGE]  # fmt: skip
    if CA_BUNDLE.exists():  # the host's trust store, for pip behind a TLS-intercepting proxy
        cmd += ["--secret", f"id=pip_cert,src={CA_BUNDLE}"]
    _run(*cmd, str(REPO), timeout=1800)
    yield IMAGE
    subprocess.run(["podman", "rmi", "-f", IMAGE], check=False, capture_output=True)


@contextmanager
def _container(image: str) -> Iterator[str]:
    """A working container of `image` (files copied into it stay there until it is removed)."""
    container = _run("buildah", "from", "-q", image).strip()
    try:
        yield container
    finally:
        subprocess.run(["buildah", "rm", container], check=False, capture_output=True)


def _in_image(
    container: str, *cmd: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` in `container` as the image's user."""
    flags = [f"--env={k}={v}" for k, v in (env or {}).items()]
    return subprocess.run(
        ["buildah", "run", "--isolation", "chroot", *flags, container, "--", *cmd],
        check=False, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@contextmanager
def _serving(container: str, cmd: list[str], env: dict[str, str] | None = None) -> Iterator[str]:
    """Run `cmd` (`ogmux serve --http ... --port 0`) in `container`; yield its base URL on loopback once it answers."""
    flags = [f"--env={k}={v}" for k, v in (env or {}).items()]
    log = tempfile.TemporaryFile("a+")  # noqa: SIM115 - closed in the finally below, after the process
    proc = subprocess.Popen(
        ["buildah", "run", "--isolation", "chroot", *flags, container, "--", *cmd],
        stdout=log, stderr=log, text=True, start_new_session=True,
    )  # fmt: skip

    def read() -> str:
        log.seek(0)
        return log.read()

    try:
        port = httpx.URL(ogmux_started(proc, read, 120)).port
        yield f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def served(image: str) -> Iterator[str]:
    cmd = ["ogmux", "serve", "--http", "--host", "127.0.0.1", "--port", "0"]
    with _container(image) as container, _serving(container, cmd) as base_url:
        yield base_url


def test_the_image_runs_as_a_non_root_user_with_a_health_check(image: str) -> None:
    inspected = json.loads(_run("podman", "image", "inspect", image))[0]
    assert inspected["Config"]["User"] == "ogmux"
    assert "/healthz" in " ".join(inspected["Healthcheck"]["Test"])
    assert inspected["Config"]["Cmd"][:3] == ["ogmux", "serve", "--http"]


def test_healthz_answers_from_the_image(served: str) -> None:
    r = httpx.get(f"{served}/healthz", timeout=5)
    assert r.status_code == 200


async def test_server_info_over_mcp_http_from_the_image(served: str) -> None:
    async with mcp.Client(f"{served}/mcp") as client:
        result = await client.call_tool("server_info", {})
        assert not result.is_error, result.content
        assert result.structured_content["principal"] == "anonymous"
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"search_index", "resolve_context"} <= names
        hits = await client.call_tool("search_index", {"query": "rotate a token", "k": 3})
        assert not hits.is_error, hits.content


def test_the_cli_and_its_example_config_ship_in_the_image(image: str) -> None:
    with _container(image) as container:
        helped = _in_image(container, "ogmux", "--help")
        assert helped.returncode == 0, helped.stderr
        assert "serve" in helped.stdout and "corpus" in helped.stdout
        example = _in_image(container, "ogmux", "config", "example")
        assert example.returncode == 0, example.stderr
        assert example.stdout == (REPO / "examples" / "ogmux.toml").read_text(encoding="utf-8")
        checked = _in_image(
            container,
            "sh",
            "-c",
            "ogmux config example > /tmp/ogmux.toml && ogmux config check /tmp/ogmux.toml",
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "/tmp/ogmux.toml is valid" in checked.stdout


def _compose_replica(redis_port: int, pg_port: int) -> tuple[list[str], dict[str, str]]:
    """compose.yaml's ogmux command (on a port the system gives) and environment, its service names pointed
    at the loopback engines."""
    service = compose_ogmux({"POSTGRES_PASSWORD": "compose-secret", "AUDIT_KEY": "cd" * 32})
    env = service["environment"]
    for key, service_addr, loopback in (
        ("OGMUX_STATE__URL", "//redis:6379/", f"//127.0.0.1:{redis_port}/"),
        ("OGMUX_OBJECTGRAPH__STORE", "@postgres:5432/", f"@127.0.0.1:{pg_port}/"),
    ):
        assert service_addr in env[key], f"compose.yaml's {key} no longer names {service_addr}: {env[key]}"
        env[key] = env[key].replace(service_addr, loopback)
    command = list(service["command"])
    command[command.index("--port") + 1] = "0"
    return command, env


async def test_a_replica_as_compose_yaml_runs_it_serves_a_pushed_corpus_and_shares_state(
    image: str, tmp_path: Path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "runbook.md").write_text(
        "# Quokka ledger\n\nThe quokka ledger is rotated by the night steward every ninth day.\n",
        encoding="utf-8",
    )
    with redis_server(tmp_path) as rds, postgres_server() as pg, _container(image) as container:
        with psycopg.connect(pg.dsn, autocommit=True) as conn:  # compose's POSTGRES_USER owns the database
            conn.execute("CREATE ROLE ogmux LOGIN")
            conn.execute("ALTER DATABASE ogmux OWNER TO ogmux")
        command, env = _compose_replica(rds.port, pg.port)
        assert command[command.index("--config") + 1] == "/app/ogmux.toml"

        # docs/deploy.md: the example config with a token, the allowed host and json_response set.
        minted = _in_image(
            container, "ogmux", "token", "new", "--principal", "compose-agent", "--role", "admin"
        )
        assert minted.returncode == 0, minted.stderr
        token = re.search(r"ogm_[A-Za-z0-9_-]{20,}", minted.stderr)[0]
        config = (REPO / "examples" / "ogmux.toml").read_text(encoding="utf-8")
        for old, new in (("allowed_hosts = []", 'allowed_hosts = ["127.0.0.1:*"]'),
                         ("json_response = false", "json_response = true")):  # fmt: skip
            assert config.count(old) == 1, old
            config = config.replace(old, new)
        (tmp_path / "ogmux.toml").write_text(config + minted.stdout, encoding="utf-8")
        _run("buildah", "copy", "-q", container, str(tmp_path / "ogmux.toml"), "/app/ogmux.toml")
        _run("buildah", "copy", "-q", container, str(corpus), "/corpus")

        pushed = _in_image(
            container, "ogmux", "corpus", "push", "/corpus", "--config", "/app/ogmux.toml", env=env
        )
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr

        with _serving(container, command, env) as base_url:
            http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
            async with mcp.Client(streamable_http_client(f"{base_url}/mcp", http_client=http)) as client:
                info = await client.call_tool("server_info", {})
                assert not info.is_error, info.content
                assert info.structured_content["principal"] == "compose-agent"
                hits = await client.call_tool("search_index", {"query": "quokka ledger", "k": 3})
                assert not hits.is_error, hits.content
                assert "Quokka ledger" in json.dumps(hits.structured_content)
                models = await client.call_tool("list_models", {})
                assert not models.is_error, models.content
                assert "qwen3-30b-a3b" in json.dumps(models.structured_content)
            async with httpx.AsyncClient(timeout=10) as plain:
                anonymous = await plain.post(
                    f"{base_url}/mcp",
                    json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                    headers={"Accept": "application/json, text/event-stream"},
                )
            assert anonymous.status_code == 401  # a replica on 0.0.0.0 answers only with a token
        # Each call's rate-limit bucket and call slot are Lua scripts in Redis; nothing else uses this Redis.
        stats = redis.Redis.from_url(rds.url).info("commandstats")
        assert sum(stats.get(k, {}).get("calls", 0) for k in ("cmdstat_evalsha", "cmdstat_eval")) >= 3, stats
