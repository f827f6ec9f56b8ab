"""Every fenced `python` and `sh` example in README.md, docs/ and examples/ runs as written; every `toml`
example is valid settings and every `json` one parses; every relative link reaches a file and heading;
every `ogmux ...` command line, synopses and inline code included, names commands and options that exist.

Examples run from the repository root, as a reader of a clone runs them, with the `ogmux` command
on PATH (an activated `.venv`) and a temporary HOME. An example that must not run here (it starts
the whole suite, needs Node.js, ...) is preceded by `<!-- docs-test: skip (why) -->`; the last
test keeps that marker explained and on at most half of the examples.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "examples").rglob("*.md"))]
# A fence may be indented (inside a list item); its closing fence has the same indentation.
FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.DOTALL | re.MULTILINE
)
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
SKIP = re.compile(r"<!-- docs-test: skip \((?P<why>[^)]{10,})\) -->")
NOISE = ("Traceback", "DEBUG", "Running HiGHS", "Copyright")


@dataclass(frozen=True)
class Example:
    path: Path
    line: int
    lang: str
    code: str
    skip: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"


def examples() -> list[Example]:
    """Every `python` and `sh` fenced block of the documentation, with its skip reason if marked."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            if m.group("lang") not in ("python", "sh"):
                continue
            before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
            skip = SKIP.fullmatch(before.strip())
            line = text.count("\n", 0, m.start()) + 1
            body = textwrap.dedent(m.group("body"))
            found.append(Example(path, line, m.group("lang"), body, skip.group("why") if skip else None))
    return found


EXAMPLES = examples()


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OGMUX_")}
    env["HOME"] = str(home)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.skip is None], ids=lambda e: e.id)
def test_example_runs_as_written(example: Example, tmp_path: Path) -> None:
    if example.lang == "python":
        cmd = [sys.executable, "-c", example.code]
    else:
        cmd = ["bash", "-e", "-o", "pipefail", "-c", example.code]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, f"{example.id} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert not [n for n in NOISE if n in proc.stderr], f"{example.id} printed noise:\n{proc.stderr[-2000:]}"


def test_skip_markers_are_rare_explained_and_attached() -> None:
    skipped = [e for e in EXAMPLES if e.skip]
    assert len(EXAMPLES) >= 5 and len(skipped) * 2 <= len(EXAMPLES), [e.id for e in skipped]
    markers = sum(len(re.findall(r"docs-test:", p.read_text(encoding="utf-8"))) for p in DOCS)
    assert markers == len(skipped), "every docs-test marker must directly precede a python or sh fence, with a reason"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_toml_examples_are_valid_settings_and_json_examples_parse(path: Path, tmp_path: Path) -> None:
    """A `toml` block is a fragment of ogmux.toml: every key known, every value of its type, every address well formed."""
    from ogmux.server.settings import ConfigError, load_settings
    from ogmux.server.startup import address_problems

    text = path.read_text(encoding="utf-8")
    for m in FENCE.finditer(text):
        body, line = textwrap.dedent(m.group("body")), text.count("\n", 0, m.start()) + 1
        if m.group("lang") == "json":
            json.loads(body)
        elif m.group("lang") == "toml":
            fragment = tmp_path / "ogmux.toml"
            fragment.write_text(body, encoding="utf-8")
            try:
                problems = address_problems(load_settings(fragment))
            except ConfigError as exc:
                problems = [str(exc)]
            assert not problems, f"{path.relative_to(REPO)}:{line}: {problems}"


def _unfenced(path: Path) -> str:
    """A Markdown file without its fenced blocks."""
    return re.sub(r"^[ \t]*(`{3,}).*?^[ \t]*\1[ \t]*$", "", path.read_text(encoding="utf-8"), flags=re.DOTALL | re.MULTILINE)


def _anchors(path: Path) -> set[str]:
    """The GitHub anchors of a Markdown file's headings."""
    heads = re.findall(r"^#{1,6} (.+)$", _unfenced(path), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in heads}


def test_relative_links_reach_a_file_and_heading() -> None:
    broken = []
    for path in DOCS:
        for m in LINK.finditer(re.sub(r"`[^`\n]*`", "", _unfenced(path))):  # not in inline code
            target = m.group("target")
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = (path.parent / file).resolve() if file else path
            if not dest.exists() or (anchor and dest.suffix == ".md" and anchor not in _anchors(dest)):
                broken.append(f"{path.relative_to(REPO)}: {target}")
    assert not broken, broken


def _command_lines(path: Path) -> list[str]:
    """The `ogmux ...` command lines of a page: lines of untagged and `sh` fences, and inline code spans."""
    text = path.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        if m.group("lang") in ("", "sh"):
            for line in m.group("body").splitlines():
                # `a && ogmux b`, `x | ogmux b`, `$(ogmux b)`: each ogmux command on its own
                parts = re.split(r"\s*(?:&&|\||;)\s+(?=ogmux )|\$\(", line.strip())
                found += [part for part in parts if part.startswith("ogmux ")]
    found += re.findall(r"`(ogmux [^`]+)`", _unfenced(path))
    return [line.split(" #")[0] for line in found]


def test_command_lines_in_the_docs_name_commands_and_options_that_exist() -> None:
    import argparse

    from ogmux.server.cli import build_parser

    root = build_parser()
    stale, seen = [], 0
    for path in DOCS:
        for line in _command_lines(path):
            seen += 1
            words = line.replace("[", " ").replace("]", " ").split()[1:]
            parser = root
            for word in words:  # descend to the innermost (sub)command named
                subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
                if not subs or word not in subs[0].choices:
                    if subs and not word.startswith("-"):
                        stale.append(f"{path.relative_to(REPO)}: no command {word!r} in `{line}`")
                    break
                parser = subs[0].choices[word]
            options = {o for a in parser._actions for o in a.option_strings} | {"-", "--"}
            for word in words:
                name = word.split("=")[0].rstrip(",)")
                if name.startswith("-") and not re.match(r"-\d", name) and name not in options:
                    stale.append(f"{path.relative_to(REPO)}: {parser.prog} has no option {name} in `{line}`")
    assert seen >= 40 and not stale, stale
