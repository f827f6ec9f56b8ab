"""Build a tiny random-weight MoE checkpoint offline and run real vLLM CPU servers on it.

The model (Qwen3-MoE: hidden 128, 2 layers, 4 heads / 2 KV heads, head_dim 32, 8 experts,
top-2) answers gibberish, but the OpenAI-compatible API, streaming, usage, `n`, metrics
and errors it exposes are the real engine's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from tests.integration.procs import listens, on_free_port, run_all

__all__ = ["VllmServer", "build_tiny_moe", "start_servers", "stop_servers"]

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _training_text(limit_bytes: int = 3_000_000) -> list[str]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out, size = [], 0
    for path in sorted(stdlib.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="ignore")
        out.append(text)
        size += len(text)
        if size > limit_bytes:
            break
    return out


def build_tiny_moe(root: Path) -> Path:
    """Write tokenizer + config + bfloat16 safetensors of the tiny MoE into `root/tiny-moe`; return the dir."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen3MoeConfig, Qwen3MoeForCausalLM

    out = root / "tiny-moe"
    if (out / "config.json").exists():
        return out
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=2048, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(_training_text(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    cfg = Qwen3MoeConfig(
        vocab_size=len(fast),
        hidden_size=128,
        intermediate_size=256,
        moe_intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        num_experts=8,
        num_experts_per_tok=2,
        decoder_sparse_step=1,
        max_position_embeddings=2048,
        eos_token_id=fast.convert_tokens_to_ids("<|im_end|>"),
        pad_token_id=fast.convert_tokens_to_ids("<|endoftext|>"),
        bos_token_id=None,
        tie_word_embeddings=False,
        torch_dtype="bfloat16",
    )
    torch.manual_seed(0)
    model = Qwen3MoeForCausalLM(cfg).to(torch.bfloat16)
    _never_end(model, cfg.eos_token_id)
    model.save_pretrained(out, safe_serialization=True)
    return out


def _never_end(model, eos: int, dim: int = 0) -> None:
    """Make the random model never sample end-of-text, so every answer runs to max_tokens.

    Random weights give end-of-text a ~1/2048 chance per token, and an answer cut at its first token is
    an empty choice that tests of streaming and `n` would read as a defect. Hidden dimension `dim` is
    held at 1 (every embedding has it, no layer writes to it), so after the final RMS norm it is always
    positive, and the end-of-text logit reads only that dimension, times -100."""
    import torch

    with torch.no_grad():
        model.model.embed_tokens.weight[:, dim] = 1.0
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight[dim, :] = 0
            layer.mlp.experts.down_proj[:, dim, :] = 0
        model.lm_head.weight[eos, :] = 0
        model.lm_head.weight[eos, dim] = -100


@dataclass
class VllmServer:
    """One `python -m vllm.entrypoints.openai.api_server` process; `start_servers` picks its port."""

    name: str
    log: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    extra: list[str] = field(default_factory=list)
    cpus: frozenset[int] | None = None  # CPU affinity of the server and everything it starts

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, model_dir: Path, work: Path) -> None:
        env = dict(os.environ)
        cache = work / "cache"
        tmp = work / "tmp"
        for d in (cache, tmp):
            d.mkdir(parents=True, exist_ok=True)
        env.update(
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            VLLM_CPU_KVCACHE_SPACE="1",
            VLLM_CACHE_ROOT=str(cache / "vllm"),
            TORCHINDUCTOR_CACHE_DIR=str(cache / "inductor"),
            HF_HOME=str(cache / "hf"),
            TMPDIR=str(tmp),
            VLLM_LOGGING_LEVEL="WARNING",
            OMP_NUM_THREADS="1",
        )
        cmd = [
            sys.executable, "-m", "vllm.entrypoints.openai.api_server",
            "--model", str(model_dir), "--served-model-name", self.name,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--max-model-len", "512", "--dtype", "bfloat16", "--enforce-eager",
            "--distributed-executor-backend", "uni", *self.extra,
        ]  # fmt: skip
        if self.cpus:
            cmd = ["taskset", "--cpu-list", ",".join(map(str, sorted(self.cpus))), *cmd]
        with self.log.open("ab") as out:  # appended: `on_free_port` reads what each attempt added
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, sig: int) -> None:
        """Send `sig` to the server and everything it started."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)


def start_servers(servers: list[VllmServer], model_dir: Path, work: Path, timeout_s: float = 240.0) -> None:
    """Start all servers at once, each on a free port (again on a new one when another process took it first),
    and wait until each listens there itself and answers /health with 200 (or raise with its log tail)."""
    deadline = time.monotonic() + timeout_s

    def serve(s: VllmServer, port: int) -> None:
        s.port = port
        s.start(model_dir, work)
        try:
            while not (s.healthy() and listens(s.proc.pid, port)):
                if s.proc.poll() is not None:
                    tail = s.log.read_text()[-4000:]
                    raise RuntimeError(f"vLLM {s.name}:{port} exited ({s.proc.returncode}):\n{tail}")
                if time.monotonic() > deadline:
                    tail = s.log.read_text()[-2000:]
                    raise RuntimeError(f"vLLM {s.name}:{port} not healthy after {timeout_s:.0f}s:\n{tail}")
                time.sleep(0.5)
        except BaseException:
            s.kill()
            raise

    run_all(partial(on_free_port, partial(serve, s), s.log) for s in servers)


def stop_servers(servers: list[VllmServer]) -> None:
    for s in servers:
        s.kill()
