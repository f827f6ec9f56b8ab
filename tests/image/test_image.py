"""The container image, built from the Dockerfile with podman and run with buildah (chroot isolation).

`make image-test` runs this; `make test` leaves it out (a build takes minutes). With no registry to
pull `python:3.11-slim` from, the image builds on a Debian bookworm base made from the Debian archive
with mmdebstrap (cached in podman's store); `OGMUX_IMAGE_BASE` names another base.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import mcp
import pytest

from tests.integration.procs import REPO, free_port

pytestmark = pytest.mark.image

LOCAL_BASE = "localhost/debian-python:bookworm"
IMAGE = "localhost/ogmux:image-test"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def _run(*cmd: str, timeout: float = 900) -> str:
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout


def _base(tmp: Path) -> str:
    base = os.environ.get("OGMUX_IMAGE_BASE")
    if base:
        return base
    if subprocess.run(["podman", "image", "exists", LOCAL_BASE], check=False).returncode != 0:
        tar = tmp / "base.tar"
        _run("mmdebstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates,passwd",
             "bookworm", str(tar))
        _run("podman", "import", "-q", str(tar), LOCAL_BASE)
    return LOCAL_BASE


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if shutil.which("podman") is None or shutil.which("buildah") is None:
        pytest.fail("podman and buildah are needed: run `make image-test`, which installs them")
    base = _base(tmp_path_factory.mktemp("base"))
    cmd = ["podman", "build", "--isolation=chroot", "--format", "docker", "--build-arg", f"BASE={base}",
           "-t", IMAGE]
    if CA_BUNDLE.exists():  # the host's trust store, for pip behind a TLS-intercepting proxy
        cmd += ["--secret", f"id=pip_cert,src={CA_BUNDLE}"]
    _run(*cmd, str(REPO), timeout=1800)
    yield IMAGE
    subprocess.run(["podman", "rmi", "-f", IMAGE], check=False, capture_output=True)


@pytest.fixture(scope="module")
def served(image: str) -> Iterator[str]:
    container = _run("buildah", "from", "-q", image).strip()
    port = free_port()
    proc = subprocess.Popen(
        ["buildah", "run", "--isolation", "chroot", container, "--",
         "ogmux", "serve", "--http", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"the server in the image exited {proc.returncode}: {proc.stdout.read()}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the server in the image did not answer /healthz in 120 s")
            time.sleep(0.5)
        yield base_url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run(["buildah", "rm", container], check=False, capture_output=True)


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
