"""Configuration of the ObjectGraph capability (the `[objectgraph]` section of ogmux.toml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ogmux.demo import CORPUS as BUNDLED_CORPUS

__all__ = ["BUNDLED_CORPUS", "ObjectGraphConfig", "SearchWeights"]


class SearchWeights(BaseModel):
    """Weight of each indexed field in the lexical (BM25) score of a node.

    Defaults were chosen on the og-dev questions (Protocol P1 evidence recall);
    `benchmarks/bench_objectgraph.py --tune` repeats the sweep. They stay within 0.02 recall
    (two of 92 questions) of the sweep's best point, a difference within that set's noise.
    """

    model_config = ConfigDict(extra="forbid")

    title: float = Field(0.25, ge=0, description="node title and its heading path")
    keywords: float = Field(0.25, ge=0, description="index keywords")
    dense: float = Field(0.25, ge=0, description="dense summary")
    content: float = Field(1.0, ge=0, description="full Markdown source of the node")
    document: float = Field(
        1.0, ge=0, description="weight of the whole document's match (its visible nodes' text), relative to the node's"
    )


class ObjectGraphConfig(BaseModel):
    """Where the corpus lives and how it is split, searched, reloaded and bounded."""

    model_config = ConfigDict(extra="forbid")

    corpus: Path | None = Field(None, description="directory of .og/.md files; empty = the bundled demo corpus")
    store: str = Field(
        "",
        max_length=2000,
        description="PostgreSQL DSN of a pushed corpus (`ogmux corpus push`) to serve instead of files; empty = files",
    )
    max_node_tokens: int = Field(
        300, ge=32, le=100_000, description="plain .md sections longer than this are split into smaller nodes"
    )
    merge_tokens: int = Field(
        350,
        ge=0,
        le=100_000,
        description="plain .md heading sections whose whole subsection tree is at most this many tokens are "
        "served as one node (0 = one node per heading)",
    )
    reload: bool = Field(True, description="re-read changed files in the background while calls are served")
    reload_interval_s: float = Field(1.0, ge=0, description="least time between two scans for changed files")
    max_file_bytes: int = Field(
        1_000_000, ge=1024, description="larger corpus files are reported and not served (parse time and memory grow with size)"
    )
    max_files: int = Field(
        10_000,
        ge=1,
        description="most corpus files served, whatever their scopes (a bound on writers); beyond it new "
        "files are reported and not served",
    )
    max_attribute_chars: int = Field(
        4096, ge=64, description="longest og: attribute value (title, dense, ...); longer ones are a located error"
    )
    search_weights: SearchWeights = Field(default_factory=SearchWeights)
    bm25_k1: float = Field(1.2, gt=0, description="BM25 term-frequency saturation")
    bm25_b: float = Field(0.75, ge=0, le=1, description="BM25 length normalisation")
    default_k: int = Field(8, ge=1, le=100, description="results per search page when k is not given")
    max_k: int = Field(50, ge=1, le=500, description="largest page a search may ask for")
    ranking: Literal["lexical", "hybrid"] = Field(
        "hybrid",
        description='"hybrid" fuses BM25 with the bundled embedding model (wordllama); "lexical" is BM25 alone',
    )
    dense_weight: float = Field(
        0.5, ge=0, le=1, description="share of the embedding similarity in the hybrid score (the rest is BM25)"
    )
    min_similarity: float = Field(
        0.25, ge=-1, le=1, description="least embedding cosine for a node with no query term to count as a match"
    )
    min_body_words: int = Field(
        3, ge=0, le=100, description="a node with children and fewer words of its own than this is never ranked (its children are)"
    )
    store_candidates: int = Field(
        2000,
        ge=0,
        le=4096,
        description="document store: per query term and scope class, the most nodes a search scores (its best "
        "postings; 0 = every matching node)",
    )
    rerank: Literal["off", "llm"] = Field("off", description='"llm" re-ranks the top candidates with a model')
    rerank_candidates: int = Field(20, ge=2, le=200, description="how many lexical candidates the re-ranker sees")
    follow_tokens: int = Field(
        600,
        ge=0,
        le=1_000_000,
        description="most tokens the nodes reached over `requires` edges may add when resolve_context gets no follow",
    )
    max_depth: int = Field(8, ge=0, le=64, description="deepest edge traversal resolve_context allows")
    max_result_tokens: int = Field(
        20_000, ge=256, description="token budget applied when a resolve call gives none (clients cap tool output)"
    )

    def corpus_dir(self) -> Path:
        """The configured corpus directory, or the bundled demo corpus."""
        return Path(self.corpus).expanduser().resolve() if self.corpus else BUNDLED_CORPUS
