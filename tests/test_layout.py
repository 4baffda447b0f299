"""The house plan of issue 18, enforced: only explorer/app (and the pages) import Streamlit, no
page imports torch, no st.cache function lives in a page, and no file grows past the size a
reader can hold (explorer/ modules ~400 lines, pages ~300)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "explorer"
PAGES = REPO / "pages"
MAX_MODULE_LINES = 420
MAX_PAGE_LINES = 300
# Files allowed past the limits, each with why. Keep this empty: split a file instead.
OVERSIZE: dict[str, str] = {}


def _sources(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "node_modules" not in p.parts)


def imported_roots(source: str) -> set[str]:
    """Top-level package names a module imports anywhere (module level or inside functions)."""
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def cache_decorated(source: str) -> list[str]:
    """Functions decorated with st.cache_data / st.cache_resource (called or bare)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(target, ast.Attribute) and target.attr.startswith("cache_"):
                    out.append(node.name)
    return out


def test_the_checks_see_what_they_look_for():
    """The rules below can fail: each helper finds its target in a small example."""
    assert "streamlit" in imported_roots("def f():\n    from streamlit import session_state\n")
    assert "torch" in imported_roots("import torch.nn as nn\n")
    assert "explorer" not in imported_roots("from . import cache\n")
    assert cache_decorated("import streamlit as st\n@st.cache_data(max_entries=2)\n"
                           "def f(x):\n    return x\n@st.cache_resource\ndef g():\n    pass\n"
                           ) == ["f", "g"]


def test_only_explorer_app_imports_streamlit():
    offenders = [str(p.relative_to(REPO)) for p in _sources(PACKAGE)
                 if PACKAGE / "app" not in p.parents
                 and "streamlit" in imported_roots(p.read_text(encoding="utf-8"))]
    assert not offenders, f"Streamlit imported outside explorer/app: {offenders}"


def test_no_page_imports_torch_or_defines_a_cache():
    torch_pages, cached = [], {}
    for p in _sources(PAGES):
        text = p.read_text(encoding="utf-8")
        if "torch" in imported_roots(text):
            torch_pages.append(p.name)
        if cache_decorated(text):
            cached[p.name] = cache_decorated(text)
    assert not torch_pages, f"pages importing torch: {torch_pages}"
    assert not cached, f"st.cache functions in pages (move them to explorer/app): {cached}"


@pytest.mark.parametrize("root,limit", [(PACKAGE, MAX_MODULE_LINES), (PAGES, MAX_PAGE_LINES)],
                         ids=["explorer", "pages"])
def test_no_file_is_over_its_size(root, limit):
    long = {}
    for p in _sources(root):
        rel = str(p.relative_to(REPO))
        n = len(p.read_text(encoding="utf-8").splitlines())
        if n > limit and rel not in OVERSIZE:
            long[rel] = n
    assert not long, f"over {limit} lines (split along a seam): {long}"


def test_every_listed_exception_still_needs_to_be_one():
    for rel, why in OVERSIZE.items():
        assert why.strip(), f"{rel}: give the reason"
        p = REPO / rel
        assert p.is_file(), f"{rel} is listed as an exception but does not exist"
        limit = MAX_PAGE_LINES if p.parent == PAGES else MAX_MODULE_LINES
        assert len(p.read_text(encoding="utf-8").splitlines()) > limit, \
            f"{rel} is within the limit now: drop it from OVERSIZE"


def imported_modules(source: str) -> set[str]:
    """Full dotted names of the absolute imports a module makes anywhere."""
    mods = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.add(node.module)
            mods.update(f"{node.module}.{a.name}" for a in node.names)
    return mods


# The data flow's layers: a package may import only those listed for it (and itself). render is
# the one picture/byte toolbox every layer may use; app and cli sit on top.
ALLOWED = {
    "data": {"render"},
    "models": set(),
    "metrics": {"data", "latent"},
    "training": {"data", "models", "bundle", "render", "metrics"},
    "bundle": {"data", "models", "training", "render", "latent"},
    "latent": {"data", "models", "bundle", "metrics", "store", "render"},
    "store": {"data", "latent", "bundle"},
    "evaluation": {"data", "models", "training", "bundle", "latent", "metrics"},
    "render": {"data", "latent", "bundle", "metrics"},
    "cli": {"data", "models", "training", "bundle", "latent", "metrics", "evaluation", "store",
            "render"},
}


def layer_offences(package: str, mods: set[str]) -> list[str]:
    used = {m.split(".")[1] for m in mods if m.startswith("explorer.") and m.count(".") >= 1}
    return sorted(u for u in used - {package} - ALLOWED[package]
                  if (PACKAGE / u).is_dir())


def test_the_layer_check_can_fail():
    mods = imported_modules("def f():\n    from explorer.app import cache\n")
    assert layer_offences("latent", mods) == ["app"]
    assert layer_offences("data", {"explorer.cli.train"}) == ["cli"]
    assert layer_offences("data", {"explorer.data.schema", "explorer.render.pictures"}) == []


def test_each_layer_imports_only_the_layers_it_builds_on():
    """No domain package imports explorer.app (Streamlit) or explorer.cli."""
    offenders = {}
    for pkg in ALLOWED:
        for p in _sources(PACKAGE / pkg):
            bad = layer_offences(pkg, imported_modules(p.read_text(encoding="utf-8")))
            if bad:
                offenders[str(p.relative_to(REPO))] = bad
    assert offenders == {}


def test_the_package_data_ships_every_asset():
    """pyproject.toml's package-data globs cover every non-Python file in explorer/ (the map's
    frontend, the live decoder's JavaScript and WASM, the font), so an installed package works."""
    import tomllib
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    globs = cfg["tool"]["setuptools"]["package-data"]["explorer"]
    shipped = {p for g in globs for p in PACKAGE.glob(g) if p.is_file()}
    assets = {p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix not in (".py", ".pyc")
              and "__pycache__" not in p.parts}
    assert assets, "no assets found: the check would pass vacuously"
    assert sorted(str(p.relative_to(PACKAGE)) for p in assets - shipped) == []
