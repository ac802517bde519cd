"""vae_core is a plain library: no streamlit, and no heavy imports on `import vae_core`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return set(out.stdout.split())


def test_import_vae_core_is_light():
    mods = _modules_after("import vae_core, vae_core.config, vae_core.data, vae_core.patches, vae_core.samples")
    assert "streamlit" not in mods
    assert "torch" not in mods
    assert "umap" not in mods


def test_whole_library_never_imports_streamlit():
    names = [p.stem for p in (ROOT / "vae_core").glob("*.py") if p.stem not in ("__main__",)]
    code = "import importlib\n" + "\n".join(
        f"importlib.import_module('vae_core.{n}')" for n in names if n != "__init__"
    )
    mods = _modules_after(code)
    assert "streamlit" not in mods
    assert "torch" in mods  # sanity: the heavy modules really were imported
