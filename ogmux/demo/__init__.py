"""The demo data shipped inside the package: what ogmux serves when nothing is configured.

`CORPUS` is the demo document corpus; `SAFETY_RUNS` is a runs directory holding the synthetic
safety run `radsafe-synthetic`. Both are plain directories next to this file, in a clone and in
an installed wheel alike. `EXAMPLE_CONFIG` is the settings file documenting every key (in a clone,
a link to examples/ogmux.toml; the wheel holds a copy).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["CORPUS", "EXAMPLE_CONFIG", "SAFETY_RUNS"]

_HERE = Path(__file__).resolve().parent
CORPUS = _HERE / "corpus"
SAFETY_RUNS = _HERE / "safety"
EXAMPLE_CONFIG = _HERE / "ogmux.toml"
