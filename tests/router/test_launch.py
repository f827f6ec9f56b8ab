"""vLLM command lines for the MoE presets."""

from __future__ import annotations

import pytest

from ogmux.router.launch import PRESETS, plan_launch
from ogmux.server.cli import main


def test_single_gpu_small_model_has_no_parallel_flags():
    plan = plan_launch("olmoe-1b-7b", gpus=1)
    assert (plan.tensor_parallel, plan.data_parallel, plan.expert_parallel) == (1, 1, False)
    assert plan.argv[:3] == ["vllm", "serve", "allenai/OLMoE-1B-7B-0924-Instruct"]
    assert "--enable-expert-parallel" not in plan.argv and "--data-parallel-size" not in plan.argv


def test_large_model_gets_tensor_parallel_and_expert_parallel():
    plan = plan_launch("mixtral-8x7b", gpus=4)
    assert (plan.tensor_parallel, plan.data_parallel, plan.expert_parallel) == (2, 2, True)
    a = plan.argv
    assert a[a.index("--tensor-parallel-size") + 1] == "2" and a[a.index("--data-parallel-size") + 1] == "2"
    assert "--enable-expert-parallel" in a and a[a.index("--tool-call-parser") + 1] == "mistral"


def test_gpt_oss_fits_one_gpu_and_uses_its_parsers():
    a = plan_launch("gpt-oss-20b", gpus=1, gpu_mem_gb=24).argv
    assert a[a.index("--reasoning-parser") + 1] == "openai_gptoss" and a[a.index("--tool-call-parser") + 1] == "openai"


def test_impossible_layouts_say_what_is_needed():
    with pytest.raises(ValueError, match="multiple of 2"):
        plan_launch("qwen3-30b-a3b", gpus=1)
    with pytest.raises(ValueError, match="unknown preset"):
        plan_launch("llama", gpus=1)


def test_cli_prints_the_command(capsys):
    assert main(["vllm", "cmd", "qwen3-30b-a3b", "--gpus", "2"]) == 0
    out = capsys.readouterr().out
    assert "vllm serve Qwen/Qwen3-30B-A3B" in out and "--enable-expert-parallel" in out
    assert main(["vllm", "cmd", "qwen3-30b-a3b", "--gpus", "3"]) == 2
    assert set(PRESETS) == {"qwen3-30b-a3b", "gpt-oss-20b", "mixtral-8x7b", "olmoe-1b-7b"}


def test_compose_runs_the_printed_command_line_on_the_tested_vllm_release():
    import re
    from pathlib import Path

    compose = (Path(__file__).parents[2] / "compose.yaml").read_text(encoding="utf-8")
    folded = re.search(r"command: >-\n((?:      .*\n)+)", compose).group(1)
    assert folded.split() == plan_launch("qwen3-30b-a3b", gpus=2).argv[2:]
    assert re.search(r"image: vllm/vllm-openai:v0\.32\.0\b", compose)


def test_vllm_up_runs_the_planned_command_line(tmp_path, monkeypatch, capsys):
    # A 30B MoE cannot start here; a stand-in `vllm` on PATH records the command line it was given.
    record = tmp_path / "argv.txt"
    fake = tmp_path / "vllm"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["vllm", "up", "olmoe-1b-7b", "--gpus", "1"]) == 0
    assert record.read_text().split("\n")[:-1] == plan_launch("olmoe-1b-7b", gpus=1).argv[1:]
    fake.unlink()
    assert main(["vllm", "up", "olmoe-1b-7b", "--gpus", "1"]) == 127
    assert "`vllm` is not on PATH" in capsys.readouterr().err
