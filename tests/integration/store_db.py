"""Fresh databases on the session's PostgreSQL cluster, one per test that needs an empty document store."""

from __future__ import annotations

import itertools

import psycopg

from tests.integration.engines import PostgresServer

__all__ = ["new_database"]

_names = itertools.count()


def new_database(server: PostgresServer) -> str:
    """Create an empty database on `server`; return its DSN."""
    name = f"store_{next(_names)}"
    admin = f"postgresql://postgres@127.0.0.1:{server.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:{server.port}/{name}"
