"""The typed ObjectGraph model: a document is an ordered list of nodes joined by typed edges.

Public API
----------
- `Document`: one `.og`/`.md` file — id, title, version, default scope, changelog, nodes in
  source order, and the `layout` the writer needs to reproduce the source byte-for-byte.
- `Node`: one atomic unit — id, type, scopes, confidence, version, tags, keywords, dense
  summary, edges, parent/children, optional `Assertion`, and `full` (its exact source text).
- `Edge`: a typed edge; `target` is `node-id` (same document) or `doc-id#node-id`.
- `Assertion` / `Check`: declarative checks over a caller-supplied `state` object.
- `ChangelogEntry`: one release of a document and the node ids it changed.
- `Segment`: one piece of the source layout (a node's text or an `og:` comment block).
- `parse_ref`, `version_key`, `ID_PATTERN`, `NODE_TYPES`, `EDGE_KINDS`, `CHECK_OPS`.

Models are plain pydantic v2 models; treat them as values (use `model_copy(update=...)`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

__all__ = [
    "CHECK_OPS",
    "EDGE_KINDS",
    "FORMAT_VERSION",
    "ID_PATTERN",
    "MAX_RETRIES",
    "NODE_TYPES",
    "VERSION_PATTERN",
    "Assertion",
    "ChangelogEntry",
    "Check",
    "CheckOp",
    "Document",
    "Edge",
    "EdgeKind",
    "Node",
    "NodeType",
    "Scope",
    "Segment",
    "SegmentKind",
    "Version",
    "parse_ref",
    "version_key",
]

FORMAT_VERSION = "1.0"
"""Version of the `.og` format specification (docs/objectgraph.md) this package implements."""

ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
"""Document and node ids: ASCII letters, digits, `.`, `_`, `-`; start alphanumeric; ≤ 128 chars."""
VERSION_PATTERN = r"[0-9A-Za-z.+-]{1,32}"
"""Versions (`1.2`, `2026-11-01`, `1.0+rc1`): ASCII letters, digits, `.`, `+`, `-`; ≤ 32 chars."""
MAX_RETRIES = 100
_ID_RE = re.compile(ID_PATTERN)
_REF_RE = re.compile(rf"(?:(?P<doc>{ID_PATTERN})#)?(?P<node>{ID_PATTERN})")

NodeType = Literal["overview", "concept", "steps", "warning", "code", "reference", "example", "assertion"]
NODE_TYPES: tuple[str, ...] = NodeType.__args__  # type: ignore[attr-defined]

EdgeKind = Literal["requires", "precedes", "see-also", "verifies", "supersedes"]
"""`requires`: read/do the target first (dependency closure follows these).
`precedes`: this node comes before the target in a procedure.
`see-also`: related, not needed. `verifies`: an assertion node checks the target.
`supersedes`: this node replaces the (older) target."""
EDGE_KINDS: tuple[str, ...] = EdgeKind.__args__  # type: ignore[attr-defined]

CheckOp = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "exists", "matches"]
CHECK_OPS: tuple[str, ...] = CheckOp.__args__  # type: ignore[attr-defined]

SegmentKind = Literal["space", "meta", "index", "changelog", "marker", "node"]

Scope = Annotated[str, Field(pattern=rf"^{ID_PATTERN}$")]
"""A scope name (same syntax as ids); `public` means visible to every role."""
Version = Annotated[str, Field(pattern=rf"^{VERSION_PATTERN}$")]
"""A document, node or release version."""


def parse_ref(ref: str, default_doc: str) -> tuple[str, str]:
    """Split `node` or `doc#node` into `(doc, node)`; raise ValueError when malformed."""
    match = _REF_RE.fullmatch(ref)
    if match is None:
        raise ValueError(f"invalid node reference {ref!r}: use 'node-id' or 'doc-id#node-id'")
    return match.group("doc") or default_doc, match.group("node")


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key for versions like `1.10.2` or `2026-11-01`: numeric parts compare as numbers."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.\-+]", version) if p)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Edge(_Model):
    """A typed, directed edge from the node that declares it to `target`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: EdgeKind
    target: str = Field(description="'node-id' in the same document or 'doc-id#node-id' in another.")
    inferred: bool = Field(default=False, description="True when inferred from the Markdown, not authored.")

    @field_validator("target")
    @classmethod
    def _check_target(cls, value: str) -> str:
        parse_ref(value, "_")
        return value

    def resolve(self, doc_id: str) -> tuple[str, str]:
        """`(doc, node)` of the target, relative to the declaring document `doc_id`."""
        return parse_ref(self.target, doc_id)


class Check(_Model):
    """One declarative check: the value at dotted `path` in `state` compared with `op` to `value`.

    `exists` ignores `value` (or, when `value` is `false`, requires absence); `in` takes a list;
    `matches` takes a regular expression matched with `re.search` against `str(value_at_path)`.
    """

    path: str = Field(pattern=r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
    op: CheckOp
    value: JsonValue = None


class Assertion(_Model):
    """The executable part of an `assertion` node: checks, retries, and whom to escalate to."""

    checks: list[Check] = Field(min_length=1)
    retries: int = Field(default=0, ge=0, le=MAX_RETRIES, description="How many times to retry before escalating.")
    escalate_to: str | None = Field(
        default=None,
        pattern=rf"^(?:role:{ID_PATTERN}|(?:{ID_PATTERN}#)?{ID_PATTERN})$",
        description="Node reference ('id' / 'doc#id') or 'role:<name>' to hand over to.",
    )


class ChangelogEntry(_Model):
    """One release: the document `version`, its `date`, the node ids it changed, and why."""

    version: Version
    date: dt.date
    changed: list[str] = Field(default_factory=list)
    summary: str = ""


class Node(_Model):
    """One atomic unit of a document. `full` is the node's exact Markdown source text."""

    id: str = Field(pattern=rf"^{ID_PATTERN}$")
    doc: str = Field(pattern=rf"^{ID_PATTERN}$")
    type: NodeType = "concept"
    title: str
    heading: str | None = Field(default=None, description="Inline text of the node's heading, if it has one.")
    level: int = Field(default=0, ge=0, le=7, description="Heading level 1–6; 0 preamble; 7 headless node.")
    scopes: list[Scope] = Field(default_factory=lambda: ["public"])
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    version: Version = "1.0"
    tags: list[str] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    dense: str = ""
    derived_metadata: bool = Field(
        default=True, description="True when keywords/dense were computed at load, not written in the source."
    )
    edges: list[Edge] = Field(default_factory=list)
    parent: str | None = None
    children: list[str] = Field(default_factory=list)
    assertion: Assertion | None = None
    declared: bool = Field(default=False, description="True when an `og:node` marker declared this node.")
    full: str = ""
    line_start: int = Field(default=1, ge=1, description="First source line of `full` (1-based).")
    line_end: int = Field(default=1, ge=1, description="Last source line of `full` (1-based, inclusive).")

    @property
    def ref(self) -> str:
        """The corpus-wide reference `doc#id`."""
        return f"{self.doc}#{self.id}"

    def edges_of(self, kind: EdgeKind) -> list[Edge]:
        """This node's edges of one kind, in declaration order."""
        return [e for e in self.edges if e.kind == kind]


class Segment(_Model):
    """A run of source lines: a node's text, an `og:` block, or leading blank lines.

    `raw` holds an `og:` block's exact text and `trailing` the blank lines after it;
    `fingerprint` is the block's canonical rendering at parse time, so the writer can tell
    whether the block's meaning changed since (unchanged blocks are written back verbatim).
    """

    kind: SegmentKind
    node_id: str | None = None
    raw: str = ""
    trailing: str = ""
    fingerprint: str | None = None


class Document(_Model):
    """One ObjectGraph document (a parsed `.og` or `.md` file)."""

    id: str = Field(pattern=rf"^{ID_PATTERN}$")
    title: str
    version: Version = "1.0"
    scope: Scope = Field(default="public", description="Default scope of nodes that declare none.")
    format: str = Field(
        default=FORMAT_VERSION, description="`.og` format version the file declares (major 1)."
    )
    path: str | None = None
    changelog: list[ChangelogEntry] = Field(default_factory=list)
    nodes: list[Node] = Field(default_factory=list)
    layout: list[Segment] = Field(default_factory=list)

    def node_map(self) -> dict[str, Node]:
        """Nodes by id."""
        return {n.id: n for n in self.nodes}

    def get(self, node_id: str) -> Node | None:
        """The node with this id, or None."""
        return next((n for n in self.nodes if n.id == node_id), None)

    def body(self) -> str:
        """The document's Markdown without `og:` blocks: all nodes' `full` texts in order."""
        return "".join(n.full for n in self.nodes)
