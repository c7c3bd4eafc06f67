"""The package's layers, read from its source with ``ast`` (module-level and function-level imports alike).

Top to bottom: ``apps`` -> the bundles' glue (prepare, handlers, checkpoint, interpret,
deploy, benchmark) -> ``transforms`` -> ``preprocessing`` -> ``layout`` ; ``phantoms`` ->
``data`` ; bottom (errors, features, fileio, networks). Nothing imports upwards, no
module imports itself back through others, ``layout`` stays free of torch and MONAI,
``data`` of layouts and of direct torch imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "omicsfusion"

BOTTOM = {"errors", "features", "fileio", "networks"}
GLUE = {"prepare", "handlers", "checkpoint", "interpret", "deploy", "benchmark"}
# layer -> the layers (first component below ``omicsfusion``) its modules may import
ALLOWED = {
    "apps": None,  # anything
    **{glue: GLUE | {"transforms", "preprocessing", "layout", "phantoms", "data"} | BOTTOM for glue in GLUE},
    "transforms": {"transforms", "preprocessing", "layout", "data"} | BOTTOM,
    "preprocessing": {"preprocessing", "layout", "data", "errors", "features", "fileio"},
    "layout": {"layout", "errors", "features"},
    "phantoms": {"phantoms", "data", "errors", "fileio"},
    "data": {"data", "errors", "features", "fileio"},
    "errors": set(),
    "features": {"errors"},
    "fileio": set(),
    "networks": {"networks", "errors"},
    "__init__": {"errors"},  # the package's own __init__
    "__main__": set(),  # dispatches to apps by name (importlib), imports none of them
}
# third-party packages a layer's modules must not import themselves (``data`` may: its slide readers
# subclass MONAI's WSI readers, ``omicsfusion.data.spatial.wsi``)
FORBIDDEN_THIRD_PARTY = {
    "layout": {"torch", "monai", "ignite"},
    "data": {"torch", "ignite"},
    "preprocessing": {"torch", "monai", "ignite"},
    "phantoms": {"torch", "monai", "ignite"},
}


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ["omicsfusion", *path.relative_to(PACKAGE).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The module of the package that ``import name`` loads (``name`` itself or its longest module prefix)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> tuple[set[str], set[str]]:
    """(omicsfusion modules, top-level third-party packages) that ``module`` imports anywhere in its body."""
    path, is_package = MODULES[module]
    package = module if is_package else module.rpartition(".")[0]
    ours, theirs = set(), set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # ``from pkg import sub`` imports the submodule; ``from mod import name`` the module
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] == "omicsfusion":
                owner = _owner(name)
                if owner and owner != module:
                    ours.add(owner)
            else:
                theirs.add(name.split(".")[0])
    return ours, theirs


GRAPH = {module: _imports(module)[0] for module in MODULES}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_module_has_a_layer():
    assert {_layer(m) for m in MODULES} <= set(ALLOWED), "a new top-level module: give it a layer in ALLOWED"


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(root: str) -> None:
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle():
    assert _cycles() == []


def test_the_cycle_finder_sees_a_cycle():
    saved = dict(GRAPH)
    try:
        GRAPH["omicsfusion.errors"] = {"omicsfusion.fileio"}
        GRAPH["omicsfusion.fileio"] = {"omicsfusion.errors"}
        assert _cycles() == [["omicsfusion.errors", "omicsfusion.fileio"]]
    finally:
        GRAPH.clear()
        GRAPH.update(saved)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_nothing_imports_upwards(module):
    allowed = ALLOWED[_layer(module)]
    if allowed is None:
        return
    upward = sorted(m for m in GRAPH[module] if _layer(m) not in allowed)
    assert upward == [], f"{module} imports {upward}, outside its layer's {sorted(allowed)}"


@pytest.mark.parametrize("layer", sorted(FORBIDDEN_THIRD_PARTY))
def test_lower_layers_stay_free_of_torch_and_monai(layer):
    for module in (m for m in MODULES if _layer(m) == layer):
        used = _imports(module)[1] & FORBIDDEN_THIRD_PARTY[layer]
        assert not used, f"{module} imports {sorted(used)}"
