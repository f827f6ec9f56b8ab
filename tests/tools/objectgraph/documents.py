"""Small ObjectGraph documents that more than one test module serves."""

import shutil
from pathlib import Path

from ogmux.demo import CORPUS as DEMO

# An admin-only node (`rotation`) that a public node requires, with a changelog naming it:
# a reader must see none of it, and `xylophone-42` must never reach a reader.
VAULT = """<!-- og:meta id=vault title="Vault" version=1.1 -->
<!-- og:changelog
version=1.1 date=2026-05-01 changed=rotation summary="Rotate the root key monthly."
-->

<!-- og:node id=howto type=steps
:requires rotation
-->
## Rotating keys

Rotate keys with the rotation procedure.

<!-- og:node id=rotation type=steps scopes=admin -->
## Root key rotation

The root key xylophone-42 is rotated by the vault operator.
"""


def demo_corpus_with(root: Path, **documents: str) -> Path:
    """`root` holding the bundled demo corpus plus `documents` (file name -> text)."""
    for p in DEMO.iterdir():
        shutil.copy(p, root / p.name)
    for name, text in documents.items():
        (root / name).write_text(text, encoding="utf-8")
    return root
