"""Statistics on per-item arrays: clustered bootstrap, Wilson, exact McNemar, Holm, calibration,
risk-coverage, minimal detectable difference. Everything is vectorised over leading axes."""

from __future__ import annotations

import warnings

import numpy as np

from ogmux.evaluators.radsafe.replicates import MIN_REPLICATES, check_replicates

__all__ = [
    "MIN_REPLICATES",
    "aurc",
    "bootstrap_weights",
    "check_replicates",
    "ece_equal_mass",
    "ece_equal_width",
    "holm",
    "mcnemar_exact",
    "mdd_paired",
    "mdd_two_sample",
    "replicate_ratio",
    "risk_coverage",
    "summarize_replicates",
    "wilson",
]

Z95 = 1.959963984540054
Z80 = 0.8416212335729143


def bootstrap_weights(n: int, replicates: int, seed: int, order: np.ndarray | None = None) -> np.ndarray:
    """(B, n) multiplicities of a bootstrap over `n` clusters (questions).

    The indices are drawn as `default_rng(seed).integers(0, n, size=(B, n), dtype=int32)`,
    the released RadSaFE code's draw. They refer to the clusters listed in `order` (column
    j of the draw means cluster order[j]); the result's columns follow the caller's axis.
    """
    if replicates == 0 or n == 0:
        return np.zeros((replicates, n), np.float64)
    idx = np.random.default_rng(seed).integers(0, n, size=(replicates, n), dtype=np.int32)
    if order is not None:
        idx = np.asarray(order)[idx]
    w = np.zeros((replicates, n), np.float64)
    rows = np.repeat(np.arange(replicates), n)
    np.add.at(w, (rows, idx.ravel()), 1.0)
    return w


def replicate_ratio(values: np.ndarray, mask: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Bootstrap replicates of sum(values*mask)/sum(mask) over the last axis: shape (..., B)."""
    lead = values.shape[:-1]
    v = np.where(mask, values, 0.0).reshape(-1, values.shape[-1])
    m = mask.reshape(-1, mask.shape[-1]).astype(np.float64)
    num = v @ weights.T
    den = m @ weights.T
    with np.errstate(divide="ignore", invalid="ignore"):
        return (num / den).reshape(lead + (weights.shape[0],))


def summarize_replicates(reps: np.ndarray) -> dict[str, np.ndarray]:
    """mean, sample s.d. (ddof=1) and the 2.5/97.5 percentiles (linear) over the last axis."""
    if reps.shape[-1] == 0:
        nan = np.full(reps.shape[:-1], np.nan)
        return {"mean": nan, "std": nan, "lo": nan, "hi": nan}
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanpercentile(reps, [2.5, 97.5], axis=-1)
        return {"mean": np.nanmean(reps, -1), "std": np.nanstd(reps, -1, ddof=1), "lo": lo, "hi": hi}


def wilson(successes: np.ndarray | float, n: np.ndarray | float, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (NaN when n = 0)."""
    s, n = np.asarray(successes, float), np.asarray(n, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return centre - half, centre + half


def mcnemar_exact(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Exact two-sided McNemar p: min(1, 2*P[X <= min(b,c)]), X ~ Bin(b+c, 1/2); 1 when b+c = 0."""
    from scipy import stats as sps  # here, not at import: scipy.stats adds seconds to every start-up

    b, c = np.asarray(b), np.asarray(c)
    n = b + c
    p = np.minimum(1.0, 2.0 * sps.binom.cdf(np.minimum(b, c), n, 0.5))
    return np.where(n == 0, 1.0, p)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (monotone, capped at 1)."""
    p = np.asarray(p, float)
    if p.size == 0:
        return p
    order = np.argsort(p, kind="stable")
    m = p.size
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(1.0, adj)
    return out


def mdd_two_sample(p: np.ndarray, n: np.ndarray, alpha: float = 0.05, power: float = 0.8) -> np.ndarray:
    """Smallest difference between two independent rates near `p` detectable at `n` items each."""
    from scipy import stats as sps

    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    with np.errstate(divide="ignore", invalid="ignore"):
        return z * np.sqrt(2 * p * (1 - p) / n)


def mdd_paired(discordant_share: np.ndarray, n: np.ndarray, alpha: float = 0.05, power: float = 0.8) -> np.ndarray:
    """Smallest paired difference detectable at `n` items given the share of discordant pairs."""
    from scipy import stats as sps

    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    with np.errstate(divide="ignore", invalid="ignore"):
        return z * np.sqrt(discordant_share / n)


def ece_equal_width(conf: np.ndarray, correct: np.ndarray, mask: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """ECE and MCE with `bins` equal-width bins [i/b, (i+1)/b), the last closed at 1.

    N counts every masked item, also those whose confidence falls in no bin (< 0), as the
    released code does. Returns (ece, mce) over the leading axes.
    """
    c = np.where(mask, conf, np.nan)
    idx = np.floor(c * bins)
    idx = np.where(c == 1.0, bins - 1, idx)
    n_all = mask.sum(-1)
    ece = np.zeros(conf.shape[:-1])
    mce = np.zeros(conf.shape[:-1])
    for b in range(bins):
        inb = (idx == b) & mask
        nb = inb.sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            gap = np.abs(np.where(inb, conf, 0).sum(-1) / nb - np.where(inb, correct, 0).sum(-1) / nb)
        gap = np.where(nb > 0, gap, 0.0)
        ece += nb * gap
        mce = np.maximum(mce, gap)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_all > 0, ece / n_all, np.nan), np.where(n_all > 0, mce, np.nan)


def ece_equal_mass(conf: np.ndarray, correct: np.ndarray, mask: np.ndarray, bins: int = 10) -> np.ndarray:
    """ECE with `bins` bins of (nearly) equal item counts after sorting by confidence."""
    flat_c = conf.reshape(-1, conf.shape[-1])
    flat_y = correct.reshape(-1, conf.shape[-1]).astype(float)
    flat_m = mask.reshape(-1, conf.shape[-1])
    out = np.full(flat_c.shape[0], np.nan)
    for r in range(flat_c.shape[0]):
        cc, yy = flat_c[r][flat_m[r]], flat_y[r][flat_m[r]]
        if cc.size == 0:
            continue
        o = np.argsort(cc, kind="stable")
        total = 0.0
        for part in np.array_split(o, min(bins, cc.size)):
            total += part.size * abs(cc[part].mean() - yy[part].mean())
        out[r] = total / cc.size
    return out.reshape(conf.shape[:-1])


def risk_coverage(conf: np.ndarray, error: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Risk at each coverage k/n, answering the most confident items first (rows = leading axes).

    Ties in confidence are averaged: within a tie group the cumulative error count is linearly
    interpolated, the expectation over random tie orders. Masked-out items are put last and
    `n` per row says how many positions are valid. Returns (coverage, risk, n), shapes (R, Q).
    """
    Q = conf.shape[-1]
    c = np.where(mask, conf, -np.inf).reshape(-1, Q)
    e = np.where(mask, error, 0).reshape(-1, Q).astype(float)
    n = mask.reshape(-1, Q).sum(-1)
    order = np.argsort(-c, axis=-1, kind="stable")
    cs = np.take_along_axis(c, order, -1)
    es = np.take_along_axis(e, order, -1)
    cum = np.concatenate([np.zeros((cs.shape[0], 1)), np.cumsum(es, -1)], -1)
    pos = np.arange(Q)
    new_group = np.ones_like(cs, bool)
    new_group[:, 1:] = cs[:, 1:] != cs[:, :-1]
    start = np.maximum.accumulate(np.where(new_group, pos, 0), axis=-1)
    end_marker = np.ones_like(cs, bool)
    end_marker[:, :-1] = new_group[:, 1:]
    end = np.flip(np.minimum.accumulate(np.flip(np.where(end_marker, pos + 1, Q), -1), -1), -1)
    cs_start = np.take_along_axis(cum, start, -1)
    cs_end = np.take_along_axis(cum, end, -1)
    k = pos + 1
    expected = cs_start + (k - start) * (cs_end - cs_start) / (end - start)
    risk = expected / k
    coverage = k / np.maximum(n, 1)[:, None]
    risk = np.where(k <= n[:, None], risk, np.nan)
    return coverage, risk, n


def aurc(conf: np.ndarray, error: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Area under the risk-coverage curve: mean risk over coverages 1/n..n/n (lower is better)."""
    _, risk, n = risk_coverage(conf, error, mask)
    with np.errstate(invalid="ignore"):
        out = np.where(n > 0, np.nansum(risk, -1) / np.maximum(n, 1), np.nan)
    return out.reshape(conf.shape[:-1])
