"""Reading ReLU networks from PyTorch (`nn.Sequential` or a state dict); torch is imported lazily."""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ogmux.tools.solver.errors import NetworkError
from ogmux.tools.solver.network import ReluNetwork

__all__ = ["from_torch", "load_torch_file"]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise NetworkError(
            "PyTorch is not installed; install the [solver-train] extra or give an ONNX/JSON network"
        ) from None
    return torch


def _from_sequential(module: Any) -> ReluNetwork:
    nn = _torch().nn
    weights, biases = [], []
    relu_after = []
    for name, layer in module.named_modules():
        if isinstance(layer, (nn.Sequential, nn.Identity, nn.Flatten, nn.Dropout)) or layer is module:
            continue
        if isinstance(layer, nn.Linear):
            weights.append(layer.weight.detach().cpu().double().numpy())
            b = (
                layer.bias.detach().cpu().double().numpy()
                if layer.bias is not None
                else np.zeros(layer.out_features)
            )
            biases.append(b)
            relu_after.append(False)
        elif isinstance(layer, nn.ReLU):
            if not weights or relu_after[-1]:
                raise NetworkError(f"module {name!r}: a ReLU must follow a Linear layer")
            relu_after[-1] = True
        else:
            raise NetworkError(
                f"module {name!r} ({type(layer).__name__}) is not supported: only Linear and ReLU layers embed exactly"
            )
    if not weights:
        raise NetworkError("the module has no Linear layer")
    if any(not r for r in relu_after[:-1]):
        raise NetworkError("every Linear layer except the last must be followed by a ReLU")
    if relu_after[-1]:
        n = weights[-1].shape[0]
        weights.append(np.eye(n))
        biases.append(np.zeros(n))
    return ReluNetwork.from_arrays(weights, biases)


def _from_state_dict(state: Mapping[str, Any]) -> ReluNetwork:
    keys = [k for k in state if k.endswith(".weight")]
    if not keys:
        raise NetworkError("the state dict has no '*.weight' entries")
    weights, biases = [], []
    for k in keys:
        w = (
            state[k].detach().cpu().double().numpy()
            if hasattr(state[k], "detach")
            else np.asarray(state[k], float)
        )
        if w.ndim != 2:
            raise NetworkError(f"{k}: expected a 2-D Linear weight, got shape {tuple(w.shape)}")
        bkey = k[: -len("weight")] + "bias"
        b = state.get(bkey)
        b = (
            np.zeros(w.shape[0])
            if b is None
            else (b.detach().cpu().double().numpy() if hasattr(b, "detach") else np.asarray(b, float))
        )
        weights.append(w)
        biases.append(b)
    return ReluNetwork.from_arrays(weights, biases)


def from_torch(obj: Any) -> ReluNetwork:
    """A ReluNetwork from an `nn.Sequential` of Linear/ReLU or a state dict (ReLU assumed between layers)."""
    torch = _torch()
    if isinstance(obj, torch.nn.Module):
        return _from_sequential(obj)
    if isinstance(obj, Mapping):
        return _from_state_dict(obj)
    raise NetworkError(f"expected an nn.Module or a state dict, got {type(obj).__name__}")


def load_torch_file(path: Path) -> ReluNetwork:
    """Load a saved state dict (`torch.save(model.state_dict(), path)`); never unpickles arbitrary objects."""
    torch = _torch()
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError) as exc:
        raise NetworkError(f"{Path(path).name}: not a loadable PyTorch state dict: {exc}") from None
    return from_torch(state)
