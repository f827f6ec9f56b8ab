"""Lexical syntax of `og:` comment blocks (docs/objectgraph.md §3–§7): attributes, markers, checks.

Used by the parser; every problem is raised as `ObjectGraphSyntaxError` with path:line:column
and a hint. Lines are 1-based and columns 1-based in all errors.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from pydantic import ValidationError

from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
from ogmux.tools.objectgraph.model import (
    CHECK_OPS,
    EDGE_KINDS,
    FORMAT_VERSION,
    ID_PATTERN,
    NODE_TYPES,
    VERSION_PATTERN,
    ChangelogEntry,
    Check,
    Edge,
    parse_ref,
)

__all__ = [
    "MAX_EDGES",
    "NODE_KEYS",
    "OG_BLOCK_START",
    "Attrs",
    "Block",
    "Marker",
    "SourceContext",
    "check_id",
    "check_keys",
    "check_version",
    "parse_attrs",
    "read_block",
    "read_changelog",
    "read_check",
    "read_marker",
    "read_meta",
    "split_list",
]

# Edges of one node, authored or inferred: they are listed with the node and not counted in token budgets.
MAX_EDGES = 64
OG_BLOCK_START = re.compile(r" {0,3}<!--\s*og:")
_OG_HEAD = re.compile(r"( {0,3}<!--\s*og:)([A-Za-z_-]*)")
_ATTR_RE = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_-]*)=("(?:[^"\\]|\\.)*"|[^\s"]+)')
_ID_RE = re.compile(ID_PATTERN)
_VERSION_RE = re.compile(VERSION_PATTERN)
_BLANK_TAIL = re.compile(r"\s*\Z")


@dataclass
class SourceContext:
    """The text being parsed (its lines) and its path, for located errors."""

    path: str | None
    lines: list[str]
    max_attr_chars: int | None = None

    def error(self, message: str, line: int, column: int = 1, hint: str = "") -> ObjectGraphSyntaxError:
        return ObjectGraphSyntaxError(message, path=self.path, line=line, column=column, hint=hint)


@dataclass
class Attrs:
    """`key=value` pairs of one line, with the 1-based column of each key."""

    values: dict[str, str]
    columns: dict[str, int]
    line: int


def parse_attrs(ctx: SourceContext, text: str, line: int, col0: int) -> Attrs:
    """Parse `key=value` / `key="json string"` pairs; `col0` is the 1-based column of `text[0]`."""
    values: dict[str, str] = {}
    columns: dict[str, int] = {}
    pos = 0
    while pos < len(text):
        if _BLANK_TAIL.match(text, pos):
            break
        match = _ATTR_RE.match(text, pos)
        if match is None:
            col = col0 + pos + (len(text[pos:]) - len(text[pos:].lstrip()))
            raise ctx.error(
                "expected key=value", line, col, 'write attributes as key=value or key="quoted value"'
            )
        key, raw = match.group(1), match.group(2)
        col = col0 + match.start(1)
        if ctx.max_attr_chars is not None and len(raw) > ctx.max_attr_chars:
            raise ctx.error(
                f"value of {key!r} is {len(raw)} characters long, over the limit of {ctx.max_attr_chars}",
                line,
                col,
                "shorten it (the limit is objectgraph.max_attribute_chars)",
            )
        if key in values:
            raise ctx.error(f"attribute {key!r} given twice", line, col, "keep one of them")
        if raw.startswith('"'):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError:
                raise ctx.error(
                    f"bad quoted value for {key!r}", line, col, "quoted values use JSON string escapes"
                )
        values[key] = raw
        columns[key] = col
        pos = match.end()
    return Attrs(values, columns, line)


def check_keys(ctx: SourceContext, attrs: Attrs, allowed: tuple[str, ...], what: str) -> None:
    """Reject attributes not in `allowed`."""
    for key in attrs.values:
        if key not in allowed:
            raise ctx.error(
                f"unknown attribute {key!r} in {what}",
                attrs.line,
                attrs.columns[key],
                f"allowed: {', '.join(allowed)}",
            )


def split_list(value: str) -> list[str]:
    """Comma-separated items, trimmed, empties dropped."""
    return [v.strip() for v in value.split(",") if v.strip()]


def check_id(ctx: SourceContext, value: str, line: int, col: int, what: str = "id") -> str:
    """Return `value` if it is a valid id, else raise a located error."""
    if not _ID_RE.fullmatch(value):
        raise ctx.error(
            f"invalid {what} {value!r}",
            line,
            col,
            "ids use letters, digits, '.', '_', '-', start with a letter or digit, ≤128 chars",
        )
    return value


def check_version(ctx: SourceContext, value: str, line: int, col: int) -> str:
    """Return `value` if it is a valid version, else raise a located error."""
    if not _VERSION_RE.fullmatch(value):
        raise ctx.error(
            f"invalid version {value[:40]!r}",
            line,
            col,
            "versions use letters, digits, '.', '+', '-', at most 32 characters (e.g. 1.2 or 2026-11-01)",
        )
    return value


@dataclass
class Block:
    """One `og:` comment block: its kind, line span, first-line attributes and further lines."""

    kind: str
    start: int  # 0-based first line
    end: int  # 0-based exclusive
    head: Attrs
    body: list[tuple[int, str]]  # (1-based line, text) of lines after the first


def read_block(ctx: SourceContext, start: int, end: int) -> Block:
    """Read the `og:` block on lines `[start, end)` (0-based): kind, attributes, body lines."""
    raw_lines = [ln.rstrip("\r\n") for ln in ctx.lines[start:end]]
    head_match = _OG_HEAD.match(raw_lines[0]) if raw_lines else None
    if head_match is None:
        raise ctx.error(
            "og: must follow <!-- on the same line",
            start + 1,
            1,
            "write <!-- og:node ... --> (or drop og: if this is an ordinary comment)",
        )
    kind = head_match.group(2)
    if kind not in ("meta", "index", "changelog", "node"):
        raise ctx.error(
            f"unknown block og:{kind}",
            start + 1,
            len(head_match.group(1)) + 1,
            "use og:meta, og:index, og:changelog or og:node",
        )
    last = raw_lines[-1]
    close = last.find("-->")
    if close < 0:
        raise ctx.error(f"og:{kind} comment is not closed", start + 1, 1, "end the block with -->")
    after = last[close + 3 :]
    if after.strip():
        column = close + 4 + len(after) - len(after.lstrip())
        raise ctx.error("text after -->", end, column, "put content on the next line")
    texts = list(raw_lines)
    texts[-1] = last[:close]
    first_text = texts[0][head_match.end() :]
    head = parse_attrs(ctx, first_text, start + 1, head_match.end() + 1)
    body = [(start + 1 + i, t) for i, t in enumerate(texts[1:], start=1)]
    return Block(kind, start, end, head, body)


@dataclass
class Marker:
    """A parsed `og:node` marker: id, raw attributes, edges and assertion checks."""

    block: Block
    id: str
    attrs: dict[str, str]
    edges: list[Edge]
    checks: list[Check]


NODE_KEYS = ("id", "type", "title", "scopes", "confidence", "version", "tags", "retries", "escalate")


def read_marker(ctx: SourceContext, block: Block) -> Marker:
    """Validate an `og:node` block: id, type, edges, checks and assertion-only keys."""
    head = block.head
    check_keys(ctx, head, NODE_KEYS, "og:node")
    if "id" not in head.values:
        raise ctx.error("og:node needs an id", block.start + 1, 1, "add id=<node-id>")
    node_id = check_id(ctx, head.values["id"], head.line, head.columns["id"])
    typ = head.values.get("type")
    if typ is not None and typ not in NODE_TYPES:
        raise ctx.error(
            f"unknown node type {typ!r}",
            head.line,
            head.columns["type"],
            f"use one of {', '.join(NODE_TYPES)}",
        )
    edges: list[Edge] = []
    checks: list[Check] = []
    for line_no, text in block.body:
        stripped = text.strip()
        col = len(text) - len(text.lstrip()) + 1
        if not stripped:
            continue
        if stripped.startswith(":"):
            kind, _, targets = stripped[1:].partition(" ")
            inferred = targets.rstrip().endswith("(inferred)")
            if inferred:
                targets = targets.rstrip().removesuffix("(inferred)")
            if kind not in EDGE_KINDS:
                raise ctx.error(
                    f"unknown edge kind :{kind}",
                    line_no,
                    col,
                    f"use one of {', '.join(':' + k for k in EDGE_KINDS)}",
                )
            if not targets.strip():
                raise ctx.error(f"edge :{kind} has no target", line_no, col, "write :kind id[, doc#id ...]")
            for target in split_list(targets):
                if len(edges) == MAX_EDGES:
                    raise ctx.error(
                        f"more than {MAX_EDGES} edges on one node",
                        line_no,
                        col,
                        "keep the edges a reader needs; link a section that lists the rest",
                    )
                try:
                    parse_ref(target, "_")
                except ValueError:
                    raise ctx.error(
                        f"invalid edge target {target!r}",
                        line_no,
                        col + text.strip().find(target),
                        "targets are node-id or doc-id#node-id",
                    )
                edges.append(Edge(kind=kind, target=target, inferred=inferred))  # type: ignore[arg-type]
        elif stripped.startswith("check:"):
            checks.append(read_check(ctx, stripped[6:].strip(), line_no, col))
        else:
            raise ctx.error(
                "unrecognised line in og:node",
                line_no,
                col,
                "lines are ':kind target, ...' edges or 'check: path op value'; "
                "keywords and dense summaries go in og:index",
            )
    if typ == "assertion" and not checks:
        raise ctx.error(
            "assertion node without checks", block.start + 1, 1, "add lines 'check: path op value'"
        )
    if typ != "assertion":
        for key in ("retries", "escalate"):
            if key in head.values:
                raise ctx.error(
                    f"{key} is only allowed on assertion nodes",
                    head.line,
                    head.columns[key],
                    "set type=assertion or remove it",
                )
        if checks:
            raise ctx.error(
                "checks are only allowed on assertion nodes", block.start + 1, 1, "set type=assertion"
            )
    return Marker(block, node_id, head.values, edges, checks)


def read_check(ctx: SourceContext, text: str, line: int, col: int) -> Check:
    """Parse `path op [json value]` of a `check:` line."""
    parts = text.split(None, 2)
    if len(parts) < 2:
        raise ctx.error(
            "check needs a path and an operator", line, col, "write 'check: health.status eq \"ok\"'"
        )
    path, op = parts[0], parts[1]
    if op not in CHECK_OPS:
        raise ctx.error(f"unknown check operator {op!r}", line, col, f"use one of {', '.join(CHECK_OPS)}")
    value = None
    if len(parts) == 3:
        try:
            value = json.loads(parts[2])
        except json.JSONDecodeError:
            raise ctx.error(
                f"check value is not JSON: {parts[2]!r}",
                line,
                col,
                'quote strings: "ok"; numbers, true/false/null and [lists] as in JSON',
            )
    elif op != "exists":
        raise ctx.error(
            f"check operator {op} needs a value", line, col, "add a JSON value after the operator"
        )
    try:
        return Check(path=path, op=op, value=value)  # type: ignore[arg-type]
    except ValidationError:
        raise ctx.error(f"invalid check path {path!r}", line, col, "paths are dotted keys like queue.depth")


def read_meta(ctx: SourceContext, block: Block | None) -> dict[str, str]:
    """The `og:meta` attributes (they may continue on further lines), validated."""
    if block is None:
        return {}
    attrs = block.head
    for line_no, text in block.body:
        more = parse_attrs(ctx, text, line_no, 1)
        for key, value in more.values.items():
            if key in attrs.values:
                raise ctx.error(
                    f"attribute {key!r} given twice", line_no, more.columns[key], "keep one of them"
                )
            attrs.values[key] = value
            attrs.columns[key] = more.columns[key]
    check_keys(ctx, attrs, ("id", "title", "version", "scope", "format"), "og:meta")
    if "format" in attrs.values:
        fmt = attrs.values["format"]
        major = fmt.split(".", 1)[0]
        if not re.fullmatch(r"\d+\.\d+", fmt) or major != FORMAT_VERSION.split(".", 1)[0]:
            raise ctx.error(
                f"unsupported ObjectGraph format {fmt!r}",
                attrs.line,
                attrs.columns["format"],
                f"this reader understands format {FORMAT_VERSION.split('.', 1)[0]}.x (e.g. format={FORMAT_VERSION})",
            )
    if "id" in attrs.values:
        check_id(ctx, attrs.values["id"], attrs.line, attrs.columns["id"], "document id")
    if "scope" in attrs.values:
        check_id(ctx, attrs.values["scope"], attrs.line, attrs.columns["scope"], "scope")
    if "version" in attrs.values:
        check_version(ctx, attrs.values["version"], attrs.line, attrs.columns["version"])
    return attrs.values


def read_changelog(ctx: SourceContext, block: Block | None) -> list[ChangelogEntry]:
    """The releases listed in an `og:changelog` block, one per line."""
    if block is None:
        return []
    if block.head.values:
        raise ctx.error(
            "og:changelog takes no attributes on its first line",
            block.start + 1,
            1,
            "write one release per line below it",
        )
    entries = []
    for line_no, text in block.body:
        if not text.strip():
            continue
        attrs = parse_attrs(ctx, text, line_no, 1)
        check_keys(ctx, attrs, ("version", "date", "changed", "summary"), "og:changelog")
        for key in ("version", "date"):
            if key not in attrs.values:
                raise ctx.error(
                    f"changelog entry needs {key}=",
                    line_no,
                    1,
                    'write version=1.1 date=2026-01-31 changed=a,b summary="..."',
                )
        check_version(ctx, attrs.values["version"], line_no, attrs.columns["version"])
        try:
            date = dt.date.fromisoformat(attrs.values["date"])
        except ValueError:
            raise ctx.error("date must be YYYY-MM-DD", line_no, attrs.columns["date"], "e.g. date=2026-11-01")
        changed = split_list(attrs.values.get("changed", ""))
        for node_id in changed:
            check_id(ctx, node_id, line_no, attrs.columns["changed"], "node id")
        entries.append(
            ChangelogEntry(
                version=attrs.values["version"],
                date=date,
                changed=changed,
                summary=attrs.values.get("summary", ""),
            )
        )
    return entries
