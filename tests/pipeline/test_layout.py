"""The library's layout (docs/development.md, "Layout"): subpackages in layers, each importing only
from the layers below it; no import cycle between modules; no module importing another module's
private name; every subpackage declaring its public names. Read statically from the sources."""

import ast
from pathlib import Path

import pytest

from conservattack.pipeline.deps import LIB_DIR

# bottom first; a module may import its own subpackage and the layers before it
LAYERS = [{"_lazy"}, {"attacks"}, {"models", "data"}, {"studies"}, {"plots"}, {"pipeline", "bench"}]
LAYER_OF = {name: k for k, layer in enumerate(LAYERS) for name in layer}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(LIB_DIR.rglob("*.py")):
        parts = path.relative_to(LIB_DIR).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(name: str, path: Path) -> list[tuple[str, list[str]]]:
    """(imported module relative to the package, names imported from it) for every import of a
    package module in ``path``, at any depth (function-level imports included)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.split(".")[0] == "conservattack":
                module = ".".join(node.module.split(".")[1:])
            else:
                continue
            found.append((module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "conservattack":
                    found.append((".".join(alias.name.split(".")[1:]), []))
    return found


def edges() -> dict[str, set[str]]:
    """Module -> the package modules it imports (a ``from package import submodule`` counts as the
    submodule)."""
    mods = modules()
    graph = {}
    for name, path in mods.items():
        targets = set()
        for module, names in imports_of(name, path):
            subs = [f"{module}.{n}" if module else n for n in names]
            hits = [s for s in subs if s in mods]
            targets.update(hits or [module])
            if hits and len(hits) < len(subs) and module in mods:
                targets.add(module)
        graph[name] = {t for t in targets if t != name}
    return graph


def top(name: str) -> str:
    return name.split(".")[0] if name else ""


def test_layers_import_only_downwards():
    wrong = []
    for name, targets in edges().items():
        if not name:
            continue  # the package __init__ maps everything, lazily
        for t in targets:
            if top(t) != top(name) and LAYER_OF.get(top(t), 99) >= LAYER_OF[top(name)]:
                wrong.append(f"{name} imports {t}")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles():
    graph = edges()
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "\n".join(cycles)


def test_no_module_imports_a_private_name_of_another():
    wrong = []
    for name, path in modules().items():
        for module, names in imports_of(name, path):
            wrong += [f"{name}: from {module} import {n}" for n in names if n.startswith("_") and n != "_lazy"
                      and module != name]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", ["", "attacks", "attacks.engines", "models", "data", "data.fetch", "studies",
                                     "plots", "pipeline", "bench"])
def test_every_package_declares_its_public_names(package):
    import importlib

    mod = importlib.import_module(f"conservattack.{package}" if package else "conservattack")
    assert mod.__doc__ and len(mod.__doc__) > 60
    assert mod.__all__
    for name in mod.__all__:
        assert hasattr(mod, name) or (Path(mod.__file__).parent / f"{name}.py").is_file() \
            or (Path(mod.__file__).parent / name).is_dir(), f"{package}: {name}"


def test_the_package_docstring_maps_every_subpackage():
    doc = __import__("conservattack").__doc__
    for sub in sorted({top(n) for n in modules()} - {"", "_lazy"}):
        assert f"``{sub}``" in doc, sub
