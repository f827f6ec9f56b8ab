"""Escalation signals other than the quality predictor, scaled to [0, 1] with higher = riskier.

They plug straight into `router.calibration.fit_threshold` (default grid) and
`Calibration.escalate`, so a cascade can escalate on sample disagreement or token confidence.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

__all__ = ["SignalError", "disagreement", "logprob_risk", "normalize_answer"]


class SignalError(ValueError):
    """A signal cannot be computed from what was given; the message says why."""


def normalize_answer(answer: str | None) -> str:
    """Case- and whitespace-insensitive form of an answer; None and blank answers become ""."""
    return " ".join((answer or "").lower().split())


def disagreement(answers: Sequence[str | None]) -> float:
    """Share of sampled answers that differ from the most common one (0 = all agree).

    Blank or missing answers form their own group, so unparseable samples count as disagreement.
    """
    if len(answers) == 0:
        raise SignalError("disagreement needs at least one sampled answer")
    counts = Counter(normalize_answer(a) for a in answers)
    return 1.0 - max(counts.values()) / len(answers)


def logprob_risk(token_logprobs: Sequence[float]) -> float:
    """1 − the geometric-mean token probability of a completion (0 = fully confident)."""
    if len(token_logprobs) == 0:
        raise SignalError("logprob_risk needs the completion's token logprobs (request logprobs=true)")
    if any(not math.isfinite(v) or v > 0 for v in token_logprobs):
        raise SignalError("token logprobs must be finite numbers <= 0")
    return 1.0 - math.exp(sum(token_logprobs) / len(token_logprobs))
