"""What `ogmux serve` checks and says before it serves: the corpus is there and readable, in one line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ogmux.server.settings import Settings
from ogmux.server.state import redact_url
from ogmux.text import plural
from ogmux.tools.objectgraph.corpus import CorpusError

if TYPE_CHECKING:  # the command line imports StartupError without loading the MCP server
    from ogmux.server.app import OgmuxServer

__all__ = ["StartupError", "check_corpus", "missing_paths", "startup_line"]


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


def check_corpus(server: OgmuxServer) -> str:
    """Load the served corpus now; describe it, or raise StartupError when it is missing or has no readable document."""
    from ogmux.server.documents import served_corpus

    cfg = server.ogmux_settings.objectgraph
    if cfg.store:
        return "corpus from the document store (objectgraph.store)"
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


def startup_line(server: OgmuxServer, config: Path | None, transport: str) -> str:
    """One line for stderr: transport, config file, corpus (documents, nodes), role and tool count.

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
    source = f"config {config.absolute()}" if config else "no config file (defaults)"
    shared = settings.state
    state = f" · shared state {redact_url(shared.url)} (fail {shared.fail})" if shared.url else ""
    return f"ogmux: {transport} · {source} · {corpus} · {role} · {tools}{state}"
