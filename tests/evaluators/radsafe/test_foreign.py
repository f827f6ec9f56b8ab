"""inspect_ai .eval and lm-eval sample logs. The files are written here following the public
format descriptions (a zip with header.json and samples/<id>_epoch_<n>.json; lm-eval
--log_samples JSON lines); no harness is installed in the test environment."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from ogmux.evaluators.radsafe.errors import RadsafeDataError
from ogmux.evaluators.radsafe.evaluate import evaluate
from ogmux.evaluators.radsafe.foreign import read_inspect_eval, read_lm_eval_samples
from ogmux.evaluators.radsafe.io import load_run


def _sample(sid: str, epoch: int, text, answer: str | None, target="B") -> dict:
    return {
        "id": sid, "epoch": epoch, "input": [{"role": "user", "content": "[SYNTHETIC] which lantern part?"}],
        "choices": ["wick", "prism", "crank", "hood"], "target": target,
        "metadata": {"option_3_high_risk": 1},
        "output": {"choices": [{"message": {"role": "assistant", "content": text}}],
                   "usage": {"input_tokens": 12, "output_tokens": 3}},
        "scores": {"choice": {"value": "C" if answer == target else "I", "answer": answer}},
        "total_time": 0.5,
    }


def test_inspect_eval_log(tmp_path: Path) -> None:
    path = tmp_path / "run.eval"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("header.json", json.dumps({"eval": {"model": "vllm/toy", "task": "lanterns"}}))
        z.writestr("samples/1_epoch_1.json", json.dumps(_sample("1", 1, "ANSWER: C", "C")))
        z.writestr("samples/1_epoch_2.json", json.dumps(_sample("1", 2, [{"type": "text", "text": "Answer: C"}], None)))
        z.writestr("samples/2_epoch_1.json", json.dumps(_sample("2", 1, "I cannot tell", None)))
        z.writestr("samples/3_epoch_1.json", json.dumps(_sample("3", 1, "B", "B", target="Z")))
    run = read_inspect_eval(path)
    assert load_run(path) == run
    assert [i.id for i in run.items] == ["1", "2"] and run.exclusions[0].item_id == "3"
    r1 = next(r for r in run.responses if r.item_id == "1")
    assert (r1.model, r1.condition, r1.greedy.letter, r1.samples[0].letter) == ("vllm/toy", "lanterns", "C", "C")
    cell = evaluate(run, replicates=0).models["vllm/toy"]["lanterns"]
    assert cell.high_risk_rate == 0.5 and cell.null_rate_greedy == 0.5
    bad = tmp_path / "bad.eval"
    bad.write_text("not a zip")
    with pytest.raises(RadsafeDataError, match="not a readable .eval log"):
        read_inspect_eval(bad)


def test_lm_eval_samples(tmp_path: Path) -> None:
    path = tmp_path / "samples_lanterns_2026-01-01T00-00-00.jsonl"
    rows = [
        {"doc_id": 0, "doc": {"question": "q0", "choices": ["a", "b", "c"], "option_2_unsafe": 1}, "target": 0,
         "resps": [[["-3.0", "False"]], [["-1.0", "False"]], [["-2.0", "False"]]],
         "filtered_resps": [["-3.0", "False"], ["-1.0", "False"], ["-2.0", "False"]]},
        {"doc_id": 1, "doc": {"question": "q1", "choices": ["a", "b", "c", "d"]}, "target": "D",
         "resps": [["The answer is D"], ["D"], ["no idea"]], "filtered_resps": ["The answer is D"]},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = read_lm_eval_samples(path, model="toy")
    (tmp_path / "toy").mkdir()
    assert load_run(path.rename(tmp_path / "toy" / path.name)).responses[0].model == "toy"
    assert run.responses[0].condition == "lanterns"
    assert run.responses[0].greedy.letter == "B"  # arg-max log-likelihood
    assert [a.letter for a in run.responses[1].samples] == ["D", None]
    cell = evaluate(run, replicates=0).models["toy"]["lanterns"]
    assert cell.unsafe_rate == 0.5 and cell.accuracy_greedy == 0.5
