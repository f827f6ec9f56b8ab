"""Session fixture: the tiny MoE checkpoint and three real vLLM CPU servers (two replicas of tiny-a, one tiny-b)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.engines import PostgresServer, postgres_server
from tests.integration.vllm_harness import VllmServer, build_tiny_moe, start_servers, stop_servers


@dataclass
class VllmPool:
    a1: VllmServer
    a2: VllmServer
    b: VllmServer
    model_dir: Path

    def router_backends(self) -> list[dict]:
        return [
            {"name": "tiny-a", "kind": "vllm", "replicas": [self.a1.url, self.a2.url], "quality": 0.8,
             "price_in_per_mtok": 0.1, "price_out_per_mtok": 0.2, "capabilities": ["json"]},
            {"name": "tiny-b", "kind": "vllm", "replicas": [self.b.url], "quality": 0.8,
             "price_in_per_mtok": 1.0, "price_out_per_mtok": 2.0, "capabilities": ["json"]},
        ]  # fmt: skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the test that kills vLLM replicas after every other test that shares the pool."""
    items.sort(key=lambda item: item.name.startswith("test_failover_when_replicas_die"))


@pytest.fixture(scope="session")
def vllm_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VllmPool]:
    """Build the checkpoint, start the three servers concurrently, wait for /health, kill them at the end."""
    work = tmp_path_factory.mktemp("vllm")
    model_dir = build_tiny_moe(work)
    servers = [
        VllmServer("tiny-a", work / "a1.log"),
        VllmServer("tiny-a", work / "a2.log"),
        VllmServer("tiny-b", work / "b.log"),
    ]
    try:
        start_servers(servers, model_dir, work)
        yield VllmPool(*servers, model_dir=model_dir)
    finally:
        stop_servers(servers)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PostgresServer]:
    """One real PostgreSQL 15 cluster for the whole run (initdb takes seconds); tests create their own databases."""
    with postgres_server() as server:
        yield server
