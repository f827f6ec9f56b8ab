"""Learning to rank for ObjectGraph search on og-dev → benchmarks/results/ltr.json.

An experiment with a fixed protocol: does a small linear re-ranker over the top candidates of
today's hybrid ranking lift Protocol P1 (bench_objectgraph.py: `search_index(q, k=3)`, then
`resolve_context(ids, level="full")` with the default edge following) on documents it was not
trained on?

- Features per (question, visible node): per-field BM25 (title with heading path, own title,
  heading path, keywords, dense, content), document BM25, the product's lexical and fused
  scores, embedding cosines (node, document title, heading path, title), ranks among the
  candidates, node size, depth, position, type, children, share of query terms per field,
  title / heading phrase in the question, and the fused scores of the visible parent and
  neighbours. Everything is computed over the caller's visible nodes only.
- Label: the number of evidence passages the node's text holds (the match P1 uses).
- Models (numpy + scipy L-BFGS): pointwise logistic, pairwise logistic, listwise softmax; L2.
- Protocol: 5 folds grouped by document (documents of each class dealt round-robin), repeated
  over seeds; each question is scored by a model that never saw its document. The
  hyper-parameters (model, L2, candidates) are chosen inside the training folds (nested, on
  the share of evidence held by the top 3), so the outer figure is not tuned on its own fold.
  Also leave-one-document-class-out. Reported against the default ranking on the same questions:
  recall, reduction, recall by task, questions gained / lost, and a bootstrap interval; and a
  learning curve (trained on 50 % / 80 % of the documents, scored on the rest).
- Quick single tries on all 92 questions (no training): greedy coverage of query terms over
  the top 20, and heading-path-aware embedding fused into the score.

og-dev lives outside the repository (../shared/data/og-dev); without it the script says so and
writes nothing. Usage: python benchmarks/bench_ltr.py [--data DIR] [--seeds N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_objectgraph import _norm, _questions, _recall, _sources

from ogmux.tools.objectgraph.access import normalize_scopes
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
from ogmux.tools.objectgraph.embedding import cosines, load_embedder
from ogmux.tools.objectgraph.lexical import FieldIndex, analyze
from ogmux.tools.objectgraph.metadata import reader_text
from ogmux.tools.objectgraph.render import render_resolve
from ogmux.tools.objectgraph.resolve import resolve_context
from ogmux.tools.objectgraph.search import _body, _build, _lexical, _scores
from ogmux.tools.objectgraph.snapshot import Snapshot
from ogmux.tools.objectgraph.tokens import count_tokens

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "og-dev"
OUT = ROOT / "benchmarks" / "results" / "ltr.json"
K = 3
FOLDS = 5
CANDIDATES = (20, 50)
L2 = (0.001, 0.01, 0.1)
PRIOR = 10.0
MIN_GAIN = 0.02
MODELS = ("pointwise", "pairwise", "listwise", "pairwise-compact", "listwise-compact")
TYPES = ("concept", "overview", "steps", "code", "example", "warning")
_WORDS = re.compile(r"[a-z0-9]+")
FIELDS = ("title_path", "title", "path", "keywords", "dense", "content")
NAMES = (
    [f"bm25_{f}" for f in FIELDS]
    + ["bm25_document", "lexical", "fused", "cos_node", "cos_node_gap", "cos_doc_title", "cos_path", "cos_title"]
    + [f"rank_{f}" for f in ("fused", "lexical", "cos_node", "bm25_content", "bm25_title_path", "document")]
    + ["log_tokens", "log_body_words", "depth", "position", "has_children"]
    + [f"type_{t}" for t in TYPES]
    + ["cover_title_path", "cover_content", "cover_any", "cover_content_idf"]
    + ["title_in_question", "heading_in_question", "same_doc_as_top", "doc_share_of_candidates"]
    + ["parent_fused", "neighbour_fused_max"]
)
"""Feature columns, in the order `Featurizer.candidates` builds them."""
COMPACT = ("fused", "bm25_content", "bm25_title_path", "bm25_document", "cos_node", "cos_path", "cover_any",
           "log_tokens", "same_doc_as_top")  # fmt: skip
"""A small feature set (lower variance): the model kinds ending in "-compact" see only these."""


# --- features ------------------------------------------------------------------------------
@dataclass
class Candidates:
    """One question's candidate rows (today's order), their feature matrix and labels."""

    qid: str
    rows: np.ndarray
    x: np.ndarray
    y: np.ndarray  # evidence passages held by each candidate
    terms: list[set[str]]  # query terms each candidate's fields hold (for greedy coverage)
    fused: np.ndarray


class Featurizer:
    """Per-node statistics of the caller's visible nodes, and per-question feature matrices."""


    def __init__(self, snap: Snapshot, config: ObjectGraphConfig):
        self.snap, self.config = snap, config
        self.vis = _build(snap, normalize_scopes(None), config)
        ids = self.vis.ids
        nodes = [snap.nodes[i] for i in ids]
        fields = {
            "title_path": [analyze(" ".join((*n.heading_path, n.title))) for n in nodes],
            "title": [analyze(n.title) for n in nodes],
            "path": [analyze(" ".join(n.heading_path)) for n in nodes],
            "keywords": [analyze(" ".join(n.keywords)) for n in nodes],
            "dense": [analyze(n.dense) for n in nodes],
            "content": [analyze(reader_text(n.full)) for n in nodes],
        }
        self.index = {f: FieldIndex({f: rows}, {f: 1.0}, k1=config.bm25_k1, b=config.bm25_b) for f, rows in fields.items()}
        self.term_sets = {f: [set(r) for r in rows] for f, rows in fields.items()}
        self.all_terms = [set().union(*(self.term_sets[f][i] for f in FIELDS)) for i in range(len(ids))]
        df: dict[str, int] = {}
        for s in self.term_sets["content"]:
            for t in s:
                df[t] = df.get(t, 0) + 1
        self.idf = {t: math.log(1 + len(ids) / c) for t, c in df.items()}
        emb = load_embedder()
        self.vec_doc = emb.embed([snap.docs[n.doc].title for n in nodes])
        self.vec_path = emb.embed([" / ".join((*n.heading_path, n.title)) for n in nodes])
        self.vec_title = emb.embed([n.title for n in nodes])
        row_of = {nid: r for r, nid in enumerate(ids)}
        self.parent = np.array([row_of.get(n.parent, -1) if n.parent else -1 for n in nodes])
        self.prev = np.array([r - 1 if r > 0 and nodes[r - 1].doc == n.doc else -1 for r, n in enumerate(nodes)])
        self.next = np.array(
            [r + 1 if r + 1 < len(nodes) and nodes[r + 1].doc == n.doc else -1 for r, n in enumerate(nodes)]
        )
        parents = set(self.parent[self.parent >= 0].tolist())
        self.has_children = np.array([r in parents for r in range(len(ids))], dtype=np.float32)
        first: dict[int, int] = {}
        count: dict[int, int] = {}
        for r, d in enumerate(self.vis.doc_of.tolist()):
            first.setdefault(d, r)
            count[d] = count.get(d, 0) + 1
        self.position = np.array(
            [(r - first[d]) / max(count[d] - 1, 1) for r, d in enumerate(self.vis.doc_of.tolist())], dtype=np.float32
        )
        self.depth = np.array([len(n.heading_path) for n in nodes], dtype=np.float32)
        self.log_tokens = np.log1p([snap.tokens(n, "full") for n in nodes]).astype(np.float32)
        self.log_words = np.log1p([len(_WORDS.findall(_body(n).lower())) for n in nodes]).astype(np.float32)
        self.type = np.array([[n.type == t for t in TYPES] for n in nodes], dtype=np.float32)
        self.title_words = [" ".join(_WORDS.findall(n.title.lower())) for n in nodes]
        self.path_words = [[" ".join(_WORDS.findall(p.lower())) for p in n.heading_path] for n in nodes]
    def base(self, query: str) -> np.ndarray:
        """Today's ranking score of every visible row."""
        return _scores(self.vis, query, self.config)

    def candidates(self, qid: str, query: str, n: int, evidence: list[str]) -> Candidates | None:
        """The top `n` rows of today's ranking with their features, or None when nothing matches."""
        fused_all = self.base(query)
        matching = np.flatnonzero(fused_all > 0)
        if not matching.size:
            return None
        rows = matching[np.lexsort((matching, -fused_all[matching]))][:n]
        terms = analyze(query)
        uq = set(terms)
        field = {f: self.index[f].scores(terms) for f in FIELDS}
        doc_scores = self.vis.doc_index.scores(terms)[self.vis.doc_of] if self.vis.doc_index else np.zeros(len(rows))
        lexical = _lexical(self.vis, terms, self.config.search_weights.document)
        qv = load_embedder().embed([query])[0]
        cos_node = cosines(self.vis.vectors, qv)

        def rel(a: np.ndarray) -> np.ndarray:
            top = float(a.max())
            return (a / top if top > 0 else a)[rows]

        def rank(a: np.ndarray) -> np.ndarray:
            v = a[rows]
            order = np.lexsort((np.arange(len(v)), -v))
            r = np.empty(len(v))
            r[order] = np.arange(len(v))
            return np.log1p(r)

        top_fused = float(fused_all[rows[0]])
        qwords = " " + " ".join(_WORDS.findall(query.lower())) + " "
        docs = self.vis.doc_of[rows]
        top_doc = docs[0]
        nb = lambda idx: np.where(idx >= 0, fused_all[np.maximum(idx, 0)], 0) / top_fused
        cols = [rel(field[f]) for f in FIELDS] + [
            rel(doc_scores),
            rel(lexical),
            fused_all[rows] / top_fused,
            cos_node[rows],
            cos_node[rows] - cos_node[rows].max(),
            cosines(self.vec_doc[rows], qv),
            cosines(self.vec_path[rows], qv),
            cosines(self.vec_title[rows], qv),
            rank(fused_all),
            rank(lexical),
            rank(cos_node),
            rank(field["content"]),
            rank(field["title_path"]),
            rank(doc_scores),
            self.log_tokens[rows],
            self.log_words[rows],
            self.depth[rows],
            self.position[rows],
            self.has_children[rows],
            *self.type[rows].T,
        ]
        cover = {
            f: np.array([len(uq & self.term_sets[f][r]) / max(len(uq), 1) for r in rows])
            for f in ("title_path", "content")
        }
        idf_total = sum(self.idf.get(t, 0.0) for t in uq) or 1.0
        cols += [
            cover["title_path"],
            cover["content"],
            np.array([len(uq & self.all_terms[r]) / max(len(uq), 1) for r in rows]),
            np.array([sum(self.idf.get(t, 0.0) for t in uq & self.term_sets["content"][r]) / idf_total for r in rows]),
            np.array([bool(self.title_words[r]) and f" {self.title_words[r]} " in qwords for r in rows], dtype=float),
            np.array([any(p and f" {p} " in qwords for p in self.path_words[r]) for r in rows], dtype=float),
            (docs == top_doc).astype(float),
            np.array([(docs == d).mean() for d in docs]),
            nb(self.parent[rows]),
            np.maximum(nb(self.prev[rows]), nb(self.next[rows])),
        ]
        x = np.column_stack(cols).astype(np.float64)
        norm_ev = [_norm(e) for e in evidence]
        texts = [_norm(self.snap.nodes[self.vis.ids[r]].full) for r in rows]
        y = np.array([sum(e in t for e in norm_ev) for t in texts], dtype=np.float64)
        return Candidates(qid, rows, x, y, [uq & self.all_terms[r] for r in rows], fused_all[rows])


# --- models --------------------------------------------------------------------------------
def _prior(c: Candidates) -> np.ndarray:
    """Today's score as a fixed offset (logit units): the model learns a correction, and strong L2
    shrinks it back to today's order."""
    return PRIOR * c.fused / c.fused[0]


Model = tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]


def _fit(kind: str, data: list[Candidates], l2: float) -> Model:
    """(weights, feature means, feature scales) of a linear correction to today's score trained on the
    questions `data`; every question weighs the same, whatever its number of candidates or pairs."""
    data = [c for c in data if c.y.any() and not c.y.all()]
    cols = [NAMES.index(f) for f in COMPACT] if kind.endswith("-compact") else list(range(len(NAMES)))
    kind = kind.removesuffix("-compact")
    allx = np.vstack([c.x[:, cols] for c in data])
    mu, sd = allx.mean(0), allx.std(0)
    sd[sd == 0] = 1.0
    xs = [(c.x[:, cols] - mu) / sd for c in data]
    d, nq = allx.shape[1], len(data)
    if kind == "pairwise":
        parts, offs = [], []
        for x, c in zip(xs, data, strict=True):
            pos, neg = np.flatnonzero(c.y > 0), np.flatnonzero(c.y == 0)
            parts.append((x[pos][:, None, :] - x[neg][None, :, :]).reshape(-1, d))
            offs.append((_prior(c)[pos][:, None] - _prior(c)[neg][None, :]).ravel())
        mat, off = np.vstack(parts), np.concatenate(offs)
        rw = np.concatenate([np.full(len(p), 1 / len(p)) for p in parts]) / nq
    else:
        mat, off = np.vstack(xs), np.concatenate([_prior(c) for c in data])
        rw = np.concatenate([np.full(len(c.y), 1 / len(c.y)) for c in data]) / nq
        starts = np.cumsum([0] + [len(c.y) for c in data])[:-1]
        group = np.repeat(np.arange(nq), [len(c.y) for c in data])
        ys = np.concatenate([c.y for c in data])
        target = ys / np.add.reduceat(ys, starts)[group]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        reg = 0.5 * l2 * float(w[:d] @ w[:d])
        grad = np.zeros_like(w)
        grad[:d] = l2 * w[:d]
        if kind == "pairwise":
            z = mat @ w + off
            total = float(rw @ np.logaddexp(0, -z))
            grad -= mat.T @ (rw / (1 + np.exp(z)))
        elif kind == "pointwise":
            z = mat @ w[:d] + w[d] + off
            t = (ys > 0).astype(float)
            total = float(rw @ (np.logaddexp(0, z) - t * z))
            g = rw * (1 / (1 + np.exp(-z)) - t)
            grad[:d] += mat.T @ g
            grad[d] += g.sum()
        else:  # listwise: softmax cross-entropy against each question's share of evidence
            z = mat @ w + off
            z = z - np.maximum.reduceat(z, starts)[group]
            e = np.exp(z)
            p = e / np.add.reduceat(e, starts)[group]
            total = float(-(target * np.log(p + 1e-12)).sum()) / nq
            grad += mat.T @ (p - target) / nq
        return total + reg, grad

    w0 = np.zeros(d + (1 if kind == "pointwise" else 0))
    res = minimize(loss, w0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return res.x[:d], mu, sd, cols


def _order(c: Candidates, model: Model | None) -> list[int]:
    """Candidate positions in re-ranked order (today's order without a model); ties keep today's order."""
    if model is None:
        return list(range(len(c.rows)))
    w, mu, sd, cols = model
    s = _prior(c) + ((c.x[:, cols] - mu) / sd) @ w
    return list(np.lexsort((np.arange(len(s)), -s)))


def _held(c: Candidates, order: list[int], n_evidence: int) -> float:
    """Share of the question's evidence held by the first K candidates (the inner selection's proxy)."""
    top = order[:K]
    return min(float(c.y[top].sum()), n_evidence) / n_evidence if n_evidence else 0.0


# --- P1 ------------------------------------------------------------------------------------
class P1:
    """Protocol P1 for a chosen set of node ids per question (memoised by the ids)."""

    def __init__(self, snap: Snapshot, config: ObjectGraphConfig, questions: list[dict], doc_tokens: dict[str, int]):
        self.snap, self.config = snap, config
        self.q = {q["id"]: q for q in questions}
        self.doc_tokens = doc_tokens
        self._memo: dict[tuple[str, tuple[str, ...]], tuple[float, int]] = {}

    def __call__(self, qid: str, ids: list[str]) -> tuple[float, int]:
        key = (qid, tuple(ids))
        if key not in self._memo:
            res = resolve_context(self.snap, ids, level="full", config=self.config) if ids else None
            text = render_resolve(res) if res else ""
            self._memo[key] = (_recall(self.q[qid]["evidence"], text), count_tokens(text))
        return self._memo[key]

    def summary(self, picks: dict[str, list[str]]) -> dict:
        """Recall, reduction and recall by task of the given top-K ids per question."""
        rows = [(self.q[qid], *self(qid, ids)) for qid, ids in picks.items()]
        by_task: dict[str, list[float]] = {}
        for q, r, _ in rows:
            by_task.setdefault(q["task"], []).append(r)
        ctx = statistics.mean(t for _, _, t in rows)
        doc = statistics.mean(self.doc_tokens[q["doc"]] for q, _, _ in rows)
        return {
            "questions": len(rows),
            "evidence_recall": round(statistics.mean(r for _, r, _ in rows), 4),
            "mean_context_tokens": round(ctx, 1),
            "reduction": round(1 - ctx / doc, 4),
            "recall_by_task": {t: round(statistics.mean(v), 4) for t, v in sorted(by_task.items())},
        }


def _folds(questions: list[dict], seed: int) -> list[set[str]]:
    """Documents dealt to FOLDS folds, class by class after a seeded shuffle (every fold mixes classes)."""
    by_class: dict[str, list[str]] = {}
    for q in questions:
        docs = by_class.setdefault(q["class"], [])
        if q["doc"] not in docs:
            docs.append(q["doc"])
    rng = random.Random(seed)
    folds: list[set[str]] = [set() for _ in range(FOLDS)]
    i = 0
    for cls in sorted(by_class):
        docs = sorted(by_class[cls])
        rng.shuffle(docs)
        for d in docs:
            folds[i % FOLDS].add(d)
            i += 1
    return folds


def _select(train: list[dict], cands: dict[int, dict[str, Candidates]], seed: int) -> tuple[str, float, int]:
    """(model, L2, candidates) with the most evidence in the top K over an inner document-grouped CV."""
    inner = _folds(train, seed + 1000)
    best, best_score = (MODELS[0], L2[0], CANDIDATES[0]), -1.0
    for n in CANDIDATES:
        for kind in MODELS:
            for l2 in L2:
                held = []
                for docs in inner:
                    fit = [cands[n][q["id"]] for q in train if q["doc"] not in docs and q["id"] in cands[n]]
                    model = _fit(kind, fit, l2)
                    for q in train:
                        if q["doc"] in docs and q["id"] in cands[n]:
                            c = cands[n][q["id"]]
                            held.append(_held(c, _order(c, model), len(q["evidence"])))
                score = statistics.mean(held)
                if score > best_score + 1e-9:
                    best, best_score = (kind, l2, n), score
    return best


def _picks(c: Candidates | None, order: list[int], ids: list[str]) -> list[str]:
    return [] if c is None else [ids[c.rows[i]] for i in order[:K]]


def cross_validate(
    questions: list[dict], cands: dict[int, dict[str, Candidates]], ids: list[str], p1: P1, seeds: int
) -> dict:
    """Nested, document-grouped CV repeated over `seeds` fold assignments; every grid point's outer CV too."""
    default = {q["id"]: _picks(cands[CANDIDATES[0]].get(q["id"]), _order(cands[CANDIDATES[0]][q["id"]], None), ids)
               if q["id"] in cands[CANDIDATES[0]] else [] for q in questions}  # fmt: skip
    base = p1.summary(default)
    runs, chosen, per_q_gain = [], [], {q["id"]: [] for q in questions}
    grid: dict[str, list[float]] = {}
    for seed in range(seeds):
        picks: dict[str, list[str]] = {}
        grid_picks: dict[str, dict[str, list[str]]] = {}
        for docs in _folds(questions, seed):
            train = [q for q in questions if q["doc"] not in docs]
            test = [q for q in questions if q["doc"] in docs]
            kind, l2, n = _select(train, cands, seed)
            chosen.append(f"{kind} l2={l2} n={n}")
            model = _fit(kind, [cands[n][q["id"]] for q in train if q["id"] in cands[n]], l2)
            for q in test:
                c = cands[n].get(q["id"])
                picks[q["id"]] = _picks(c, _order(c, model) if c else [], ids)
            if seed == 0:
                for gn in CANDIDATES:
                    for gk in MODELS:
                        for gl in L2:
                            gm = _fit(gk, [cands[gn][q["id"]] for q in train if q["id"] in cands[gn]], gl)
                            name = f"{gk} l2={gl} n={gn}"
                            for q in test:
                                c = cands[gn].get(q["id"])
                                grid_picks.setdefault(name, {})[q["id"]] = _picks(c, _order(c, gm) if c else [], ids)
        s = p1.summary(picks)
        runs.append(s)
        for q in questions:
            per_q_gain[q["id"]].append(p1(q["id"], picks[q["id"]])[0] - p1(q["id"], default[q["id"]])[0])
        for name, gp in grid_picks.items():
            grid[name] = [p1.summary(gp)["evidence_recall"], p1.summary(gp)["reduction"]]
        print(f"seed {seed}: recall {s['evidence_recall']} reduction {s['reduction']}", file=sys.stderr)
    gains = np.array([statistics.mean(v) for v in per_q_gain.values()])
    rng = np.random.default_rng(0)
    boot = [float(gains[rng.integers(0, len(gains), len(gains))].mean()) for _ in range(2000)]
    first = [p1(q["id"], picks[q["id"]])[0] - p1(q["id"], default[q["id"]])[0] for q in questions] if seeds else []
    return {
        "default": base,
        "reranked_mean_over_seeds": {
            "evidence_recall": round(statistics.mean(r["evidence_recall"] for r in runs), 4),
            "evidence_recall_min_max": [min(r["evidence_recall"] for r in runs), max(r["evidence_recall"] for r in runs)],
            "reduction": round(statistics.mean(r["reduction"] for r in runs), 4),
            "recall_by_task": {
                t: round(statistics.mean(r["recall_by_task"][t] for r in runs), 4) for t in base["recall_by_task"]
            },
        },
        "runs": runs,
        "recall_gain": round(float(gains.mean()), 4),
        "recall_gain_bootstrap_95": [round(float(np.percentile(boot, 2.5)), 4), round(float(np.percentile(boot, 97.5)), 4)],
        "questions_gained_lost_last_seed": [sum(g > 0 for g in first), sum(g < 0 for g in first)],
        "chosen_hyperparameters": {c: chosen.count(c) for c in sorted(set(chosen))},
        "grid_outer_cv_seed0": dict(sorted(grid.items(), key=lambda kv: -kv[1][0])),
    }


def in_sample(questions: list[dict], cands: dict[int, dict[str, Candidates]], ids: list[str], p1: P1) -> dict:
    """Each grid point trained and scored on all questions: how well the features fit at all (optimistic)."""
    out = {}
    for n in CANDIDATES:
        for kind in MODELS:
            for l2 in L2:
                model = _fit(kind, list(cands[n].values()), l2)
                picks = {q["id"]: _picks(c, _order(c, model), ids) if (c := cands[n].get(q["id"])) else []
                         for q in questions}  # fmt: skip
                out[f"{kind} l2={l2} n={n}"] = p1.summary(picks)["evidence_recall"]
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def learning_curve(questions: list[dict], cands: dict[int, dict[str, Candidates]], ids: list[str], p1: P1) -> dict:
    """Mean recall change on the other documents when a model is trained on a share of them (10 splits)."""
    docs = sorted({q["doc"] for q in questions})
    out = {}
    for kind, l2 in (("listwise", 0.01), ("listwise-compact", 0.01), ("pairwise-compact", 0.01)):
        for share in (0.5, 0.8):
            gains = []
            for rep in range(10):
                order = docs[:]
                random.Random(rep).shuffle(order)
                train = set(order[: int(share * len(order))])
                n = CANDIDATES[0]
                model = _fit(kind, [cands[n][q["id"]] for q in questions if q["doc"] in train and q["id"] in cands[n]], l2)
                test = [q for q in questions if q["doc"] not in train and q["id"] in cands[n]]
                gains.append(statistics.mean(
                    p1(q["id"], _picks(cands[n][q["id"]], _order(cands[n][q["id"]], model), ids))[0]
                    - p1(q["id"], _picks(cands[n][q["id"]], list(range(K)), ids))[0]
                    for q in test
                ))  # fmt: skip
            out[f"{kind} l2={l2} n={CANDIDATES[0]} train_share={share}"] = {
                "mean_gain": round(statistics.mean(gains), 4),
                "min_max": [round(min(gains), 4), round(max(gains), 4)],
            }
    return out


def leave_class_out(questions: list[dict], cands: dict[int, dict[str, Candidates]], ids: list[str], p1: P1) -> dict:
    """Train on four document classes, test on the fifth (hyper-parameters nested as above)."""
    picks, per_class = {}, {}
    for cls in sorted({q["class"] for q in questions}):
        train = [q for q in questions if q["class"] != cls]
        test = [q for q in questions if q["class"] == cls]
        kind, l2, n = _select(train, cands, 0)
        model = _fit(kind, [cands[n][q["id"]] for q in train if q["id"] in cands[n]], l2)
        cls_picks = {}
        for q in test:
            c = cands[n].get(q["id"])
            cls_picks[q["id"]] = _picks(c, _order(c, model) if c else [], ids)
        picks.update(cls_picks)
        default = {q["id"]: _picks(cands[n].get(q["id"]), list(range(K)), ids) for q in test}
        per_class[cls] = {
            "chosen": f"{kind} l2={l2} n={n}",
            "reranked": p1.summary(cls_picks)["evidence_recall"],
            "default": p1.summary(default)["evidence_recall"],
        }
    return {"reranked": p1.summary(picks), "per_class": per_class}


# --- quick single tries ----------------------------------------------------------------------
def greedy_coverage(questions: list[dict], cands: dict[str, Candidates], ids: list[str], p1: P1) -> dict:
    """Top 1, then each next node adds the most query terms not yet covered (+ alpha × its fused share)."""
    out = {}
    for alpha in (0.0, 0.25, 0.5, 1.0):
        picks = {}
        for q in questions:
            c = cands.get(q["id"])
            if c is None:
                picks[q["id"]] = []
                continue
            rel = c.fused / c.fused[0]
            chosen, covered = [0], set(c.terms[0])
            while len(chosen) < min(K, len(c.rows)):
                gain = [
                    (len(c.terms[i] - covered) / max(len(set().union(*c.terms)), 1) + alpha * rel[i], -i)
                    for i in range(len(c.rows))
                    if i not in chosen
                ]
                nxt = -max(gain)[1]
                chosen.append(nxt)
                covered |= c.terms[nxt]
            picks[q["id"]] = [ids[c.rows[i]] for i in chosen]
        out[f"alpha={alpha}"] = p1.summary(picks)
    return out


def heading_path_embedding(questions: list[dict], feat: Featurizer, p1: P1) -> dict:
    """The fused score with the node cosine replaced by a blend with the heading-path vector's cosine."""
    out = {}
    w = feat.config.dense_weight
    for gamma in (0.25, 0.5):
        picks = {}
        for q in questions:
            fused = feat.base(q["question"])
            lexical = _lexical(feat.vis, analyze(q["question"]), feat.config.search_weights.document)
            top = float(lexical.max())
            qv = load_embedder().embed([q["question"]])[0]
            cos = (1 - gamma) * cosines(feat.vis.vectors, qv) + gamma * cosines(feat.vec_path, qv)
            score = np.where(fused > 0, (1 - w) * (lexical / top if top > 0 else lexical) + w * np.clip(cos, 0, None), 0)
            score = np.where(feat.vis.rankable, score, 0)
            m = np.flatnonzero(score > 0)
            picks[q["id"]] = [feat.vis.ids[r] for r in m[np.lexsort((m, -score[m]))][:K]]
        out[f"path_share={gamma}"] = p1.summary(picks)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="og-dev directory (docs/ + questions.jsonl)")
    ap.add_argument("--seeds", type=int, default=2, help="fold assignments to repeat the cross-validation over")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if not (args.data / "questions.jsonl").is_file():
        print(f"dev data not found at {args.data} (../shared/data/og-dev): nothing measured, {args.out} left as is",
              file=sys.stderr)  # fmt: skip
        return 0
    t0 = time.perf_counter()
    config = ObjectGraphConfig(reload=False)
    questions = _questions(args.data)
    snap = Corpus(args.data / "docs", config).snapshot()
    doc_tokens = {k: count_tokens(v) for k, v in _sources(args.data / "docs").items()}
    feat = Featurizer(snap, config)
    p1 = P1(snap, config, questions, doc_tokens)
    cands: dict[int, dict[str, Candidates]] = {}
    for n in CANDIDATES:
        cands[n] = {}
        for q in questions:
            c = feat.candidates(q["id"], q["question"], n, q["evidence"])
            if c is not None:
                cands[n][q["id"]] = c
    ids = feat.vis.ids
    top = max(CANDIDATES)
    reachable = statistics.mean(
        min(float(cands[top][q["id"]].y.sum()), len(q["evidence"])) / len(q["evidence"])
        for q in questions if q["id"] in cands[top]
    )  # fmt: skip
    result = {
        "benchmark": "ltr",
        "machine": {"python": platform.python_version()},
        "data": "og-dev (92 questions, 40 documents); og-heldout never read",
        "features": list(NAMES),
        "compact_features": list(COMPACT),
        "evidence_held_by_top_candidates": {str(top): round(reachable, 4)},
        "cv_5fold_by_document": cross_validate(questions, cands, ids, p1, args.seeds),
        "in_sample": in_sample(questions, cands, ids, p1),
        "leave_one_class_out": leave_class_out(questions, cands, ids, p1),
        "learning_curve": learning_curve(questions, cands, ids, p1),
        "greedy_coverage_top20": greedy_coverage(questions, cands[20], ids, p1),
        "heading_path_embedding": heading_path_embedding(questions, feat, p1),
        "elapsed_s": round(time.perf_counter() - t0, 1),
    }
    cv = result["cv_5fold_by_document"]
    adopt = cv["recall_gain"] >= MIN_GAIN and cv["reranked_mean_over_seeds"]["reduction"] >= cv["default"]["reduction"]
    result["decision"] = {
        "rule": f"adopt when the cross-validated recall gain is >= {MIN_GAIN} at a reduction not lower than the default's",
        "adopt": adopt,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["decision"]))
    print(json.dumps({k: cv[k] for k in cv if k not in ("runs", "grid_outer_cv_seed0")}, indent=2))
    print(json.dumps(result["leave_one_class_out"], indent=2))
    print(json.dumps(result["greedy_coverage_top20"], indent=2))
    print(json.dumps(result["heading_path_embedding"], indent=2))
    print(json.dumps(result["learning_curve"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
