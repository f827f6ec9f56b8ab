"""Runs stored under a directory, looked up by name."""

from __future__ import annotations

import os
import re
from pathlib import Path

from ogmux.evaluators.radsafe.errors import RadsafeDataError
from ogmux.evaluators.radsafe.io import load_run
from ogmux.evaluators.radsafe.model import Run
from ogmux.evaluators.radsafe.radsafe_layout import LABELS_PATH

__all__ = ["RunStore"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class RunStore:
    """Runs under `root`: sub-directories (RadSaFE layout, CSV or run.jsonl) or `<name>.jsonl` files.

    Errors name runs and their files relative to `root`: they reach remote callers of the safety
    tools, who have no business knowing where the server keeps its files.
    """

    def __init__(self, root: Path):
        self.root = Path(root)

    def names(self) -> list[str]:
        """Every run name found under the root."""
        if not self.root.is_dir():
            return []
        out = []
        for p in sorted(self.root.iterdir()):
            if p.is_dir() and any((p / f).exists() for f in (LABELS_PATH, Path("items.csv"), Path("run.jsonl"))):
                out.append(p.name)
            elif p.is_file() and p.suffix == ".jsonl":
                out.append(p.stem)
        return out

    def path(self, name: str) -> Path:
        """The path of run `name`; LookupError when there is no such run."""
        if not _NAME.match(name) or ".." in name:
            raise LookupError(f"invalid run name {name!r}: use letters, digits, '.', '_' or '-'")
        for candidate in (self.root / name, self.root / f"{name}.jsonl"):
            if candidate.exists():
                return candidate
        known = self.names()
        raise LookupError(
            f"no run named {name!r} in the runs directory ([eval].runs_dir); "
            f"known runs: {', '.join(known) or 'none'}"
        )

    def version(self, name: str) -> float:
        """Latest modification time of the run's files (changes when a run grows)."""
        p = self.path(name)
        files = [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file()]
        return max((f.stat().st_mtime for f in files), default=0.0)

    def load(self, name: str) -> Run:
        """Load run `name`."""
        try:
            run = load_run(self.path(name))
        except RadsafeDataError as exc:
            raise RadsafeDataError(str(exc).replace(f"{self.root}{os.sep}", "")) from None
        run.name = name
        return run
