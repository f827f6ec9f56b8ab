"""Where networks come from: files under the configured directory, or inline JSON with a size limit."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from ogmux.tools.solver.config import SolverConfig
from ogmux.tools.solver.errors import NetworkError, SizeLimitError
from ogmux.tools.solver.network import NetworkSpec, ReluNetwork
from ogmux.tools.solver.onnx_io import load_onnx
from ogmux.tools.solver.torch_io import load_torch_file

__all__ = ["load_network_file", "network_from_json", "resolve_network_path"]


def load_network_file(path: Path) -> ReluNetwork:
    """Load .onnx, .json (NetworkSpec) or .pt/.pth (state dict) from any path (trusted callers: CLI)."""
    path = Path(path)
    if not path.is_file():
        raise NetworkError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return load_onnx(path)
    if suffix == ".json":
        return network_from_json(path.read_text(encoding="utf-8"), None)
    if suffix in (".pt", ".pth"):
        return load_torch_file(path)
    raise NetworkError(
        f"{path.name}: unsupported network file type {suffix!r}; use .onnx, .json, .pt or .pth"
    )


def resolve_network_path(name: str, config: SolverConfig) -> Path:
    """The file `name` inside `config.network_dir`; reject absolute paths and anything escaping the directory."""
    if config.network_dir is None:
        raise PermissionError(
            "network files are disabled: set solver.network_dir, or pass the network inline as JSON"
        )
    root = config.network_dir.resolve()
    candidate = Path(name)
    if candidate.is_absolute() or ".." in candidate.parts:
        raise PermissionError(
            f"network path {name!r} must be relative to the network directory, without '..'"
        )
    full = (root / candidate).resolve()
    if not full.is_relative_to(root):
        raise PermissionError(f"network path {name!r} leaves the network directory")
    if not full.is_file():
        raise LookupError(f"no network file {name!r} in the network directory")
    return full


def network_from_json(text: str, max_bytes: int | None) -> ReluNetwork:
    """Parse an inline NetworkSpec JSON document, refusing documents over `max_bytes`."""
    if max_bytes is not None and len(text.encode("utf-8")) > max_bytes:
        raise SizeLimitError(
            f"inline network is {len(text.encode('utf-8'))} bytes, over the limit of {max_bytes}; pass a file instead"
        )
    try:
        spec = NetworkSpec.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise NetworkError(f"inline network is not a valid NetworkSpec: {exc}") from None
    return ReluNetwork.from_spec(spec)
