"""What `ogmux serve` checks and says before it serves, each problem in one line saying what to do.

The corpus is a readable directory, the audit file writable, the Redis URL and the document store
DSN well formed (these stop start-up); a document store or Redis that does not answer is a warning,
since the other tools keep working and the service may come up after the server.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple

from ogmux.server.settings import Settings
from ogmux.server.state import redact_url
from ogmux.text import plural
from ogmux.tools.objectgraph.corpus import CorpusError

if TYPE_CHECKING:  # the command line imports StartupError without loading the MCP server
    from redis import Redis

    from ogmux.server.app import OgmuxServer

__all__ = [
    "StartupError",
    "StoreStatus",
    "address_problems",
    "check_corpus",
    "check_corpus_dir",
    "check_settings",
    "corpus_warnings",
    "http_warnings",
    "missing_paths",
    "startup_line",
    "startup_warnings",
    "store_status",
    "store_where",
]

# How long a start-up probe waits for the document store or Redis (libpq's connect_timeout is whole seconds).
PROBE_TIMEOUT_S = 2
# Corpus problems shown at start-up; `ogmux check` lists the rest.
SHOWN_CORPUS_PROBLEMS = 5
SERVE_FIX = "set objectgraph.corpus or pass --corpus DIR"


class StartupError(Exception):
    """Start-up cannot go on; the message is one line saying why and what to do."""


def missing_paths(settings: Settings) -> list[tuple[str, Path]]:
    """The directories and files the settings name that do not exist, as (key, path)."""
    named: list[tuple[str, Path | None]] = [
        ("objectgraph.corpus", None if settings.objectgraph.store else settings.objectgraph.corpus_dir()),
        ("eval.runs_dir", settings.eval.runs_dir),
        ("router.predictor_path", settings.router.predictor_path),
        ("router.calibration_path", settings.router.calibration_path),
        ("jwt.public_key_file", settings.jwt.public_key_file),
        ("jwt.jwks_file", settings.jwt.jwks_file),
    ]
    return [(key, p) for key, p in named if p is not None and not p.expanduser().exists()]


def check_corpus_dir(path: Path, fix: str = SERVE_FIX) -> None:
    """Raise StartupError unless `path` is a directory: a file or a missing path, with what to pass instead."""
    if path.is_dir():
        return
    if path.exists():
        raise StartupError(
            f"{path} is a file, not a corpus directory: pass the directory that holds your .og and .md "
            f"documents, such as {path.parent}"
        )
    raise StartupError(f"corpus directory not found: {path} ({fix})")


def check_settings(settings: Settings) -> None:
    """Checks before the server is built: the Redis URL and the store DSN parse, the audit file can be written."""
    if problems := address_problems(settings):
        raise StartupError(problems[0])
    _check_audit(settings)


def address_problems(settings: Settings) -> list[str]:
    """What is wrong with `state.url` (not a Redis URL) and `objectgraph.store` (not a PostgreSQL DSN)."""
    problems = []
    if settings.state.url:
        try:
            _redis_client(settings)[1].close()
        except StartupError as exc:
            problems.append(str(exc))
    if settings.objectgraph.store:
        try:
            store_where(settings.objectgraph.store)
        except StartupError as exc:
            problems.append(str(exc))
    return problems


def _check_audit(settings: Settings) -> None:
    """With `audit.sink = "file"`, create the audit file's directory and open the file, or raise StartupError."""
    cfg = settings.audit
    if cfg.sink != "file":
        return
    try:
        cfg.path.parent.mkdir(parents=True, exist_ok=True)
        with cfg.path.open("a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise StartupError(
            f"audit.path {cfg.path} cannot be written ({exc.strerror or exc}): point it at a writable file, "
            'or set [audit] sink = "stderr"'
        ) from None


def store_where(dsn: str) -> str:
    """`user@host:port/dbname` of a PostgreSQL DSN (never its password); StartupError when it is not a DSN."""
    import psycopg.conninfo

    try:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:  # its text echoes the DSN, password included
        raise StartupError(
            "the document store (objectgraph.store or --store) is not a PostgreSQL connection string: "
            "write postgresql://USER@HOST:5432/DBNAME or 'host=HOST dbname=DBNAME'"
        ) from None
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"{user}{parts.get('host') or '(local socket)'}{port}/{parts.get('dbname') or ''}"


class StoreStatus(NamedTuple):
    """What a probe of the document store found: whether it answered, its current version, what is wrong."""

    reachable: bool
    version: int | None
    problem: str


def store_status(dsn: str) -> StoreStatus:
    """Probe the document store at `dsn` once; StartupError when `dsn` is not a connection string."""
    import psycopg

    where = store_where(dsn)
    try:
        with psycopg.connect(dsn, connect_timeout=PROBE_TIMEOUT_S, autocommit=True) as conn:
            row = conn.execute("SELECT version FROM ogmux.current").fetchone()
    except (psycopg.errors.UndefinedTable, psycopg.errors.InvalidSchemaName):
        row = None
    except psycopg.Error as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rsplit("failed: ", 1)[-1]
        fix = "check objectgraph.store (or --store) and that PostgreSQL runs there"
        return StoreStatus(False, None, f"document store {where} is unreachable ({reason}): {fix}")
    if row is None:
        empty = (
            f"document store {where} holds no corpus yet: push one with `ogmux corpus push DIR --store DSN`"
        )
        return StoreStatus(True, None, empty)
    return StoreStatus(True, int(row[0]), "")


def _redis_client(settings: Settings) -> tuple[ModuleType, Redis]:
    """The redis module and a client for `state.url` with the probe's timeout; StartupError when it is no Redis URL."""
    import redis

    timeout = max(settings.state.timeout_ms / 1000, PROBE_TIMEOUT_S / 2)
    try:
        return redis, redis.Redis.from_url(
            settings.state.url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
    except ValueError as exc:
        where = redact_url(settings.state.url)
        raise StartupError(
            f"state.url {where} is not a Redis URL ({exc}): write redis://HOST:6379/0"
        ) from None


def _state_problem(settings: Settings) -> str:
    """Why the configured Redis cannot be used now, with what that means for calls; empty when it answers."""
    redis, client = _redis_client(settings)
    cfg = settings.state
    try:
        client.ping()
    except redis.RedisError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].rstrip(".")
        if cfg.fail == "closed":
            then = 'every rate-limited call is refused until it answers ([state] fail = "closed")'
        else:
            then = 'each replica limits calls on its own until it answers ([state] fail = "open")'
        return f"shared state {redact_url(cfg.url)} is unreachable ({reason}): {then}; check state.url and that Redis runs there"
    finally:
        client.close()
    return ""


def startup_warnings(settings: Settings) -> list[str]:
    """One line for each configured service that does not answer now: the document store, Redis."""
    problems = []
    if settings.objectgraph.store:
        problems.append(store_status(settings.objectgraph.store).problem)
    if settings.state.url:
        problems.append(_state_problem(settings))
    return [f"ogmux: warning: {p}" for p in problems if p]


def check_corpus(server: OgmuxServer) -> str:
    """Load the served corpus (for a document store: its code) now; describe it, or raise StartupError when it is
    missing or has no readable document."""
    from ogmux.server.documents import served_corpus

    cfg = server.ogmux_settings.objectgraph
    if cfg.store:
        import ogmux.tools.objectgraph.store.views  # noqa: F401  (its driver: a broken install stops start-up)

        return f"corpus from the document store {store_where(cfg.store)}"
    check_corpus_dir(cfg.corpus_dir())
    try:
        corpus = served_corpus(server.state)
    except CorpusError as exc:
        raise StartupError(str(exc)) from None
    snap = corpus.snapshot()
    if not snap.docs:
        errors = [str(i) for i in corpus.issues if i.severity == "error"]
        first = f"; first problem: {errors[0]}" if errors else ""
        raise StartupError(
            f"corpus directory {corpus.root} holds no readable .og or .md document{first} "
            f"(`ogmux check {corpus.root}` lists every problem)"
        )
    return f"corpus {corpus.root} ({plural(len(snap.docs), 'document')}, {plural(len(snap.nodes), 'node')})"


def http_warnings(settings: Settings) -> list[str]:
    """Serving HTTP on every interface: what remote clients meet while allowed_hosts or public_url are unset."""
    cfg = settings.server
    if cfg.host not in ("0.0.0.0", "::", "[::]"):
        return []
    lines = []
    if not cfg.allowed_hosts:
        lines.append(
            f"ogmux: warning: serving on {cfg.host} with only loopback host names allowed: a client reaching "
            "this server by another name is refused (421); list its names in [server].allowed_hosts"
        )
    if not cfg.public_url:
        lines.append(
            f"ogmux: warning: [server].public_url is unset, so the 401 challenge and the JWT audience name "
            f"{cfg.resource_url()}: set it to the URL clients use"
        )
    return lines


def corpus_warnings(server: OgmuxServer) -> list[str]:
    """One line per file of the corpus that is left out (or partly left out), with its path and line.

    Called after `startup_line` has loaded the corpus; these problems are then not logged again at
    the first call.
    """
    from ogmux.server.documents import new_load_problems, served_corpus

    if server.ogmux_settings.objectgraph.store:
        return []
    root = served_corpus(server.state).root
    problems = new_load_problems(server.state)
    lines = [
        f"ogmux: warning: left out: {issue.model_copy(update={'path': str(root / issue.path)})}"
        for issue in problems[:SHOWN_CORPUS_PROBLEMS]
    ]
    if len(problems) > SHOWN_CORPUS_PROBLEMS:
        more = len(problems) - SHOWN_CORPUS_PROBLEMS
        lines.append(
            f"ogmux: warning: {plural(more, 'more corpus problem')}: `ogmux check {root}` lists every one"
        )
    return lines


def startup_line(server: OgmuxServer, config: Path | None, transport: str) -> str:
    """One line for stderr: transport (over HTTP, the endpoint's URL at the bound port), config file, corpus
    (documents, nodes), role and tool count.

    Raises StartupError when the corpus cannot be served.
    """
    settings = server.ogmux_settings
    corpus = check_corpus(server)
    who = server.default_principal
    if who is None:  # HTTP with tokens or JWT: each caller's role comes from its token
        role = f"roles {', '.join(sorted(settings.roles))} by token"
        tools = plural(len(server.specs), "tool")
    else:
        role = f"role {who.role}"
        tools = plural(len(server.visible_specs(who)), "tool")
    source = f"config {config.expanduser().absolute()}" if config else "no config file (defaults)"
    shared = settings.state
    state = f" · shared state {redact_url(shared.url)} (fail {shared.fail})" if shared.url else ""
    where = settings.server.bind_url() if transport == "http" else transport
    return f"ogmux: {where} · {source} · {corpus} · {role} · {tools}{state}"
