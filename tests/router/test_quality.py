"""The local quality predictor: learning, persistence and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ogmux.router.quality import FeatureConfig, QualityDataError, QualityPredictor
from ogmux.router.quality.features import hashed_ngrams
from tests.router.synthetic import prompts_and_outcomes


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float((pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean())


@pytest.fixture(scope="module")
def fitted() -> QualityPredictor:
    prompts, weak, _ = prompts_and_outcomes(300, seed=1)
    return QualityPredictor().fit(prompts, (weak == 0).astype(int))


def test_learns_which_prompts_the_weak_model_fails(fitted: QualityPredictor) -> None:
    prompts, weak, _ = prompts_and_outcomes(300, seed=2)
    scores = fitted.predict_batch(prompts)
    assert ((scores > 0) & (scores < 1)).all()
    assert _auc(scores, (weak == 0).astype(int)) > 0.75
    assert fitted.predict("what about the integral and the eigenvalue of the proof?") > fitted.predict(
        "what about the capital and the river of the city?"
    )


def test_save_load_round_trip(fitted: QualityPredictor, tmp_path) -> None:
    path = fitted.save(tmp_path / "predictor.json")
    data = json.loads(path.read_text())
    assert data["format"] == "ogmux.quality_predictor/1"
    loaded = QualityPredictor.load(path)
    prompts, _, _ = prompts_and_outcomes(50, seed=3)
    np.testing.assert_allclose(
        loaded.predict_batch(prompts), fitted.predict_batch(prompts), rtol=1e-5, atol=1e-6
    )
    assert loaded.meta["n_train"] == 300


def test_hashing_is_stable_and_configurable() -> None:
    text = "The derivative of x squared"
    assert hashed_ngrams(text, FeatureConfig()) == hashed_ngrams(text, FeatureConfig())
    words_only = hashed_ngrams(text, FeatureConfig(char_ngrams=(0, 0), word_ngrams=(1, 1)))
    assert sum(words_only.values()) == 5
    assert all(0 <= k < 2**10 for k in hashed_ngrams(text, FeatureConfig(hash_bits=10)))


@pytest.mark.parametrize(
    ("prompts", "labels", "message"),
    [
        ([], [], "no training prompts"),
        (["a", "b"], [0, 2], "labels must be 0 or 1"),
        (["a", "b"], [0.5, 1], "labels must be 0 or 1"),
        (["a", "b"], [1, 1], "all labels are 1"),
        (["a", "b", "c"], [0, 1], "3 prompts but labels"),
        (["a", None], [0, 1], "must be a string"),
    ],
)
def test_bad_training_data_is_named(prompts, labels, message) -> None:
    with pytest.raises(QualityDataError, match=message):
        QualityPredictor().fit(prompts, labels)


def test_unfitted_and_damaged_files_are_refused(tmp_path) -> None:
    with pytest.raises(QualityDataError, match="not fitted"):
        QualityPredictor().predict("hello")
    with pytest.raises(QualityDataError, match="no predictor file"):
        QualityPredictor.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(QualityDataError, match="not a quality predictor file"):
        QualityPredictor.load(bad)
    bad.write_text("{not json")
    with pytest.raises(QualityDataError, match="is not JSON"):
        QualityPredictor.load(bad)


def test_damaged_arrays_are_refused(fitted: QualityPredictor) -> None:
    data = fitted.to_dict()
    data["coef"] = data["coef"][:-1]
    with pytest.raises(QualityDataError, match="different lengths"):
        QualityPredictor.from_dict(data)


def test_neighbour_targets_by_hand() -> None:
    from scipy import sparse

    from ogmux.router.quality.predictor import _neighbor_targets

    # Rows 0 and 1 point the same way, as do rows 2 and 3: each row's single nearest neighbour is its twin.
    x = sparse.csr_matrix(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]))
    x = sparse.csr_matrix(x.multiply(1 / np.sqrt(x.multiply(x).sum(axis=1))))
    y = np.array([1.0, 0.0, 1.0, 1.0])
    np.testing.assert_allclose(_neighbor_targets(x, y, 1), [0.5, 0.5, 1.0, 1.0])


def test_smoothed_targets_still_rank_prompts() -> None:
    prompts, weak, _ = prompts_and_outcomes(300, seed=4)
    predictor = QualityPredictor().fit(prompts, (weak == 0).astype(int), neighbors=10)
    assert predictor.meta["neighbors"] == 10
    test_prompts, test_weak, _ = prompts_and_outcomes(200, seed=5)
    assert _auc(predictor.predict_batch(test_prompts), (test_weak == 0).astype(int)) > 0.75


def test_saved_predictor_scores_the_same_in_another_process(fitted: QualityPredictor, tmp_path) -> None:
    path = fitted.save(tmp_path / "p.json")
    prompt = "what about the matrix and the river of the proof?"
    code = f"from router.quality import QualityPredictor; print(QualityPredictor.load({str(path)!r}).predict({prompt!r}))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
        cwd=Path(__file__).resolve().parents[2],
    )
    assert float(out.stdout) == pytest.approx(fitted.predict(prompt), abs=1e-6)
