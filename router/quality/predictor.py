"""A local per-query quality predictor: TF-IDF of hashed n-grams plus length features into an
L2-regularised logistic regression (numpy/scipy only, no hosted embedding API).

`predict(prompt)` is the estimated probability that the weak model fails on the prompt, i.e. that
the strong model is needed. Saved as versioned JSON (numbers and names only, never pickled code).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.special import expit

from ogmux.router.quality.features import DENSE_NAMES, FeatureConfig, dense_features, hashed_ngrams

__all__ = ["FORMAT", "QualityDataError", "QualityPredictor"]

FORMAT = "ogmux.quality_predictor/1"
_REG_GRID = (1e-2, 3e-3, 1e-3, 3e-4)  # strongest first: each fit warm-starts the next
_CV_MAX = 3000
_Z_CLIP = 4.0


class QualityDataError(ValueError):
    """Training data or a saved predictor is not usable; the message says why."""


def _check_labels(prompts: Sequence[str], labels: Sequence[int] | np.ndarray) -> np.ndarray:
    if len(prompts) == 0:
        raise QualityDataError("no training prompts: give at least one prompt of each label")
    y = np.asarray(labels)
    if y.shape != (len(prompts),):
        raise QualityDataError(
            f"{len(prompts)} prompts but labels of shape {y.shape}: give one label per prompt"
        )
    if not np.isin(y, (0, 1)).all():
        bad = sorted({str(v) for v in np.unique(y) if v not in (0, 1)})[:5]
        raise QualityDataError(f"labels must be 0 or 1 (1 = the weak model failed); found {', '.join(bad)}")
    if y.min() == y.max():
        raise QualityDataError(f"all labels are {int(y[0])}: the predictor needs examples of both outcomes")
    if not all(isinstance(p, str) for p in prompts):
        raise QualityDataError("every prompt must be a string")
    return y.astype(float)


def _fit_logistic(
    x: sparse.csr_matrix, y: np.ndarray, reg: float, start: np.ndarray | None = None
) -> np.ndarray:
    """Weights then intercept of the L2-regularised logistic regression (Newton-CG with Hessian products)."""
    from scipy import optimize  # only needed for training; keeps `import router` light

    n, d = x.shape
    xt = x.T.tocsr()
    prior = min(max(y.mean(), 1e-6), 1 - 1e-6)
    state: dict[str, np.ndarray] = {}

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:d], theta[d]
        z = x @ w + b
        p = expit(z)
        state["curv"] = p * (1 - p) / n
        value = float(np.mean(np.logaddexp(0.0, z) - y * z)) + 0.5 * reg * float(w @ w)
        r = (p - y) / n
        grad = np.empty(d + 1)
        grad[:d] = xt @ r + reg * w
        grad[d] = r.sum()
        return value, grad

    def hessp(theta: np.ndarray, v: np.ndarray) -> np.ndarray:
        if "curv" not in state:
            loss(theta)
        u = state["curv"] * (x @ v[:d] + v[d])
        out = np.empty(d + 1)
        out[:d] = xt @ u + reg * v[:d]
        out[d] = u.sum()
        return out

    if start is None:
        start = np.zeros(d + 1)
        start[d] = math.log(prior / (1 - prior))
    result = optimize.minimize(
        loss, start, jac=True, hessp=hessp, method="Newton-CG", options={"maxiter": 50, "xtol": 1e-6}
    )
    return result.x


def _neighbor_targets(x: sparse.csr_matrix, y: np.ndarray, k: int, chunk: int = 1000) -> np.ndarray:
    """Each label averaged with those of its k most similar prompts (cosine of TF-IDF rows).

    Outcomes of single queries are noisy; averaging over lexical neighbours turns them into
    topic-level rates, which a linear model learns far better from a few thousand examples.
    """
    n = x.shape[0]
    k = min(k, n - 1)
    if k < 1:
        return y
    xt = x.T.tocsc()
    out = np.empty(n)
    for lo in range(0, n, chunk):
        sims = (x[lo : lo + chunk] @ xt).toarray()
        rows = np.arange(sims.shape[0])
        sims[rows, rows + lo] = -np.inf
        nearest = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        out[lo : lo + chunk] = (y[lo : lo + chunk] + y[nearest].sum(axis=1)) / (k + 1)
    return out


def _standardize(values: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    # Clipped so that a prompt unlike any training prompt cannot saturate the score by itself.
    return np.clip((values - mean) / scale, -_Z_CLIP, _Z_CLIP)


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


class QualityPredictor:
    """Estimates, from the prompt text alone, the probability that the weak model fails."""

    def __init__(
        self,
        config: FeatureConfig | None = None,
        *,
        dims: np.ndarray | None = None,
        idf: np.ndarray | None = None,
        coef: np.ndarray | None = None,
        dense_mean: np.ndarray | None = None,
        dense_scale: np.ndarray | None = None,
        dense_coef: np.ndarray | None = None,
        intercept: float = 0.0,
        meta: dict | None = None,
    ) -> None:
        self.config = config or FeatureConfig()
        self.dims = dims
        self.idf = idf
        self.coef = coef
        self.dense_mean = dense_mean
        self.dense_scale = dense_scale
        self.dense_coef = dense_coef
        self.intercept = intercept
        self.meta = dict(meta or {})
        self._index: dict[int, tuple[float, float]] = {}
        if dims is not None:
            self._build_index()

    @property
    def fitted(self) -> bool:
        """True once the predictor has been fitted or loaded."""
        return self.dims is not None

    def _build_index(self) -> None:
        assert self.dims is not None and self.idf is not None and self.coef is not None
        self._index = {
            int(k): (float(i), float(c)) for k, i, c in zip(self.dims, self.idf, self.coef, strict=True)
        }

    def _count_rows(self, prompts: Sequence[str]) -> list[dict[int, int]]:
        return [hashed_ngrams(p, self.config) for p in prompts]

    def _matrix(
        self, rows: list[dict[int, int]], position: dict[int, int], idf: np.ndarray
    ) -> sparse.csr_matrix:
        indptr, indices, values = [0], [], []
        for counts in rows:
            for key, c in counts.items():
                j = position.get(key)
                if j is not None:
                    indices.append(j)
                    values.append((1.0 + math.log(c)) * idf[j])
            indptr.append(len(indices))
        x = sparse.csr_matrix(
            (np.array(values), np.array(indices, dtype=np.int64), np.array(indptr)),
            shape=(len(rows), len(idf)),
        )
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sparse.csr_matrix(sparse.diags(1.0 / norms) @ x)

    def fit(
        self,
        prompts: Sequence[str],
        labels: Sequence[int] | np.ndarray,
        *,
        reg: float | None = None,
        folds: int = 3,
        seed: int = 0,
        neighbors: int = 0,
    ) -> QualityPredictor:
        """Fit on prompts with labels 1 = weak model failed (strong needed), 0 = weak model was fine.

        With `neighbors > 0` each label is first averaged with those of its most similar training
        prompts (soft targets), which denoises single-query outcomes into topic-level rates.
        With `reg=None` the L2 strength is chosen by `folds`-fold cross-validated log loss on at
        most 3,000 of the prompts.
        """
        y = _check_labels(prompts, labels)
        rows = self._count_rows(prompts)
        dense = np.vstack([dense_features(p) for p in prompts])

        def design(train_idx: np.ndarray) -> tuple[dict[int, int], np.ndarray, np.ndarray, np.ndarray]:
            df: dict[int, int] = {}
            for i in train_idx:
                for key in rows[i]:
                    df[key] = df.get(key, 0) + 1
            dims = np.array(sorted(k for k, c in df.items() if c >= self.config.min_df), dtype=np.int64)
            idf = np.log((1 + len(train_idx)) / (1 + np.array([df[k] for k in dims], dtype=float))) + 1.0
            mean = dense[train_idx].mean(axis=0)
            scale = dense[train_idx].std(axis=0)
            scale[scale < 1e-6] = 1.0
            return {int(k): j for j, k in enumerate(dims)}, dims, idf, np.vstack([mean, scale])

        def full_matrix(
            idx: np.ndarray, position: dict[int, int], idf: np.ndarray, stats: np.ndarray
        ) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
            text = self._matrix([rows[i] for i in idx], position, idf)
            return text, sparse.hstack(
                [text, sparse.csr_matrix(_standardize(dense[idx], stats[0], stats[1]))], format="csr"
            )

        everything = np.arange(len(prompts))
        if reg is None:
            if folds < 2 or len(prompts) < 2 * folds:
                reg = 1e-3
            else:
                order = np.random.default_rng(seed).permutation(len(prompts))[:_CV_MAX]
                losses = np.zeros(len(_REG_GRID))
                for k in range(folds):
                    test = order[k::folds]
                    train = np.setdiff1d(order, test)
                    position, _, idf, stats = design(train)
                    text_train, x_train = full_matrix(train, position, idf, stats)
                    _, x_test = full_matrix(test, position, idf, stats)
                    target = _neighbor_targets(text_train, y[train], neighbors) if neighbors else y[train]
                    theta = None
                    for g, candidate in enumerate(_REG_GRID):
                        theta = _fit_logistic(x_train, target, candidate, theta)
                        losses[g] += _log_loss(expit(x_test @ theta[:-1] + theta[-1]), y[test]) * len(test)
                reg = _REG_GRID[int(np.argmin(losses))]
        position, dims, idf, stats = design(everything)
        text_all, x_all = full_matrix(everything, position, idf, stats)
        theta = _fit_logistic(x_all, _neighbor_targets(text_all, y, neighbors) if neighbors else y, reg)
        w, b = theta[:-1], float(theta[-1])
        n_text = len(dims)
        self.dims, self.idf, self.coef = dims, idf, w[:n_text]
        self.dense_mean, self.dense_scale, self.dense_coef = stats[0], stats[1], w[n_text:]
        self.intercept = b
        self.meta = {
            "reg": reg,
            "neighbors": neighbors,
            "n_train": len(prompts),
            "positive_rate": float(y.mean()),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._build_index()
        return self

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise QualityDataError("the predictor is not fitted: call fit() or QualityPredictor.load(path)")

    def predict(self, prompt: str) -> float:
        """Estimated probability that the weak model fails on `prompt` (the strong model is needed)."""
        self._require_fitted()
        if not isinstance(prompt, str):
            raise QualityDataError("prompt must be a string")
        dot = 0.0
        sq = 0.0
        for key, c in hashed_ngrams(prompt, self.config).items():
            entry = self._index.get(key)
            if entry is not None:
                v = (1.0 + math.log(c)) * entry[0]
                sq += v * v
                dot += v * entry[1]
        text_score = dot / math.sqrt(sq) if sq > 0 else 0.0
        dense = _standardize(dense_features(prompt), self.dense_mean, self.dense_scale)
        return float(expit(text_score + float(dense @ self.dense_coef) + self.intercept))

    def predict_batch(self, prompts: Sequence[str]) -> np.ndarray:
        """`predict` for many prompts."""
        return np.array([self.predict(p) for p in prompts])

    def to_dict(self) -> dict:
        """The versioned JSON-ready form."""
        self._require_fitted()
        return {
            "format": FORMAT,
            "features": self.config.model_dump(mode="json"),
            "dense_names": list(DENSE_NAMES),
            "meta": self.meta,
            "intercept": self.intercept,
            "dense_mean": self.dense_mean.tolist(),
            "dense_scale": self.dense_scale.tolist(),
            "dense_coef": self.dense_coef.tolist(),
            "dims": self.dims.tolist(),
            "idf": [round(float(v), 6) for v in self.idf],
            "coef": [float(f"{v:.7g}") for v in self.coef],
        }

    def fingerprint(self) -> str:
        """`sha256:` of the predictor's canonical JSON: what a calibration fitted on its scores names."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def save(self, path: str | Path) -> Path:
        """Write the predictor as JSON to `path`."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")), encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict) -> QualityPredictor:
        """Rebuild a predictor from `to_dict()` output, checking its format."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise QualityDataError(f"not a quality predictor file (format {found!r}, expected {FORMAT!r})")
        if list(data.get("dense_names", [])) != list(DENSE_NAMES):
            raise QualityDataError(
                "the predictor was saved with other length features; retrain it with `ogmux router train`"
            )
        try:
            dims = np.asarray(data["dims"], dtype=np.int64)
            idf = np.asarray(data["idf"], dtype=float)
            coef = np.asarray(data["coef"], dtype=float)
            if not (dims.shape == idf.shape == coef.shape):
                raise QualityDataError("dims, idf and coef have different lengths")
            return cls(
                FeatureConfig.model_validate(data["features"]),
                dims=dims,
                idf=idf,
                coef=coef,
                dense_mean=np.asarray(data["dense_mean"], dtype=float),
                dense_scale=np.asarray(data["dense_scale"], dtype=float),
                dense_coef=np.asarray(data["dense_coef"], dtype=float),
                intercept=float(data["intercept"]),
                meta=data.get("meta", {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, QualityDataError):
                raise
            raise QualityDataError(f"damaged quality predictor file: {exc}") from exc

    @classmethod
    def load(cls, path: str | Path) -> QualityPredictor:
        """Read a predictor written by `save`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise QualityDataError(
                f"no predictor file at {path}: train one with `ogmux router train`"
            ) from exc
        except json.JSONDecodeError as exc:
            raise QualityDataError(f"{path} is not JSON: {exc}") from exc
        return cls.from_dict(data)
