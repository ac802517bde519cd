"""The package's shape: vae_core never imports streamlit, imports are light, and the arrows point one way.

Layers, lowest first: ``config``/``imaging``/``periodic`` -> ``data`` -> ``model`` -> ``training`` -> ``explore`` ->
``tasks`` -> ``cli``/``bench``. A module may import its own layer and the layers below it, never
one above: that is what lets a notebook use ``vae_core.data`` without torch, and lets the model
load without the trainer. Imports inside functions count too (they are read from the source).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "vae_core"
LAYERS = {"config": 0, "imaging": 0, "periodic": 0, "data": 1, "model": 2, "training": 3, "explore": 4, "tasks": 5}
TOP = 6  # cli, bench, __main__: may use everything


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return set(out.stdout.split())


def _module_names() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _layer(module: str) -> int:
    """Layer of ``vae_core.<first>...``; the package root's own ``__init__`` counts as the bottom."""
    parts = module.split(".")
    if len(parts) == 1:
        return 0
    return LAYERS.get(parts[1], TOP)


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (absolute names), at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative: resolve against the file's package
                base = path.relative_to(ROOT).with_suffix("").parts[: -node.level]
                found.add(".".join((*base, node.module)))
            else:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_import_vae_core_is_light():
    mods = _modules_after(
        "import vae_core, vae_core.config, vae_core.imaging, vae_core.data.loaders, vae_core.data.patches, "
        "vae_core.data.samples, vae_core.training.progress, vae_core.explore.figures, vae_core.tasks.results"
    )
    assert "streamlit" not in mods
    assert "torch" not in mods
    assert "umap" not in mods


def test_whole_library_never_imports_streamlit():
    names = [n for n in _module_names() if not n.endswith("__main__")]
    mods = _modules_after("import importlib\n" + "\n".join(f"importlib.import_module({n!r})" for n in names))
    assert "streamlit" not in mods
    assert "torch" in mods  # sanity: the heavy modules really were imported
    for path in PACKAGE.rglob("*.py"):  # nor inside a function that the import above did not run
        assert not {m for m in _imports(path) if m.split(".")[0] in ("streamlit", "pages")}, path


def test_imports_point_down_the_layers_only():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        here = _layer(".".join(parts))
        for target in _imports(path):
            if target.startswith("vae_core.") and _layer(target) > here:
                wrong.append(f"{path.relative_to(ROOT)} (layer {here}) imports {target} (layer {_layer(target)})")
    assert not wrong, "imports that point up:\n" + "\n".join(sorted(set(wrong)))


def test_data_and_model_never_import_training_explore_or_tasks():
    for sub in ("data", "model"):
        for path in (PACKAGE / sub).rglob("*.py"):
            above = {m for m in _imports(path) if m.split(".")[:2][-1] in ("training", "explore", "tasks")}
            assert not above, f"{path.relative_to(ROOT)} imports {sorted(above)}"


def test_every_subpackage_is_a_package_with_a_docstring():
    for sub in LAYERS:
        init = PACKAGE / sub / "__init__.py"
        if (PACKAGE / sub).is_dir():
            assert init.is_file() and ast.get_docstring(ast.parse(init.read_text())), init
