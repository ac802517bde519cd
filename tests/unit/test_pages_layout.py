"""pages/ holds storyboards and Streamlit glue only: every function in pages/shared calls Streamlit.

A function there that makes no ``st.`` call (directly, or through another glue function) is
computation, and belongs in vae_core where a notebook and a unit test can reach it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "pages" / "shared"


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _is_decorated_by_st(fn: ast.FunctionDef) -> bool:
    return any("st" in _names(d) for d in fn.decorator_list)


def test_every_function_in_pages_shared_calls_streamlit():
    offenders = []
    for path in sorted(SHARED.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = _functions(tree)
        glue = {name for name, fn in functions.items() if "st" in _names(fn) or _is_decorated_by_st(fn)}
        for fn in functions.values():  # e.g. a cache's on_release callback, named in an st decorator
            if _is_decorated_by_st(fn):
                glue |= set().union(*(_names(d) for d in fn.decorator_list)) & set(functions)
        changed = True
        while changed:  # a function that only calls glue functions is glue too
            changed = False
            for name, fn in functions.items():
                if name not in glue and _names(fn) & glue:
                    glue.add(name)
                    changed = True
        offenders += [f"{path.name}:{name}" for name in functions if name not in glue]
    assert not offenders, f"functions in pages/shared that make no Streamlit call (move them to vae_core): {offenders}"


def test_no_page_defines_a_helper_module_beside_the_pages():
    """Streamlit may list every pages/*.py as a page: helpers live in pages/shared/, never directly in pages/."""
    for path in (ROOT / "pages").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert ast.get_docstring(tree), f"{path.name}: a page starts with a one-line docstring"
