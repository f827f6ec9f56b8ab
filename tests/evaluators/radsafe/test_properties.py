"""Property tests: the vectorised vote and confidence equal the per-record reference on any ballots."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ogmux.evaluators.radsafe.presets import MajorityRule
from ogmux.evaluators.radsafe.reference import sample_confidence, vote
from ogmux.evaluators.radsafe.scoring import ballot_counts, entropy_confidence, first_seen, majority
from ogmux.evaluators.radsafe.table import NULL

BALLOTS = st.lists(st.sampled_from(["A", "B", "C", "D", "E", None]), min_size=1, max_size=25)
RULES = st.builds(MajorityRule, null=st.sampled_from(["ballot", "drop"]),
                  tie_break=st.sampled_from(["alphabetical", "first_seen", "null"]))


def _codes(ballots: list[str | None]) -> np.ndarray:
    return np.array([[NULL if b is None else "ABCDE".index(b) for b in ballots]], np.int8)


@settings(max_examples=300, deadline=None)
@given(BALLOTS, RULES)
def test_majority_matches_reference(ballots: list[str | None], rule: MajorityRule) -> None:
    codes = _codes(ballots)
    got = int(majority(ballot_counts(codes), first_seen(codes), rule)[0])
    want = vote(ballots, rule)
    assert got == (NULL if want is None else "ABCDE".index(want))


@settings(max_examples=300, deadline=None)
@given(BALLOTS, st.integers(2, 5))
def test_confidence_matches_reference_and_bounds(ballots: list[str | None], n_opt: int) -> None:
    got = float(entropy_confidence(ballot_counts(_codes(ballots)), np.array([n_opt]))[0])
    assert got == np.float64(sample_confidence(ballots, n_opt)) or abs(got - sample_confidence(ballots, n_opt)) < 1e-12
    assert got <= 1 + 1e-12
    if len(set(ballots)) <= n_opt + 1:
        assert got >= -1e-12  # only more distinct ballots than options + NULL can go negative
