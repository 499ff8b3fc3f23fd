"""Which library modules a script uses, found statically from its imports (transitively).

Snakemake's code trigger sees a rule's script but not the modules the script imports; the
workflow lists these files as rule inputs so that editing a module re-runs exactly the rules
that use it.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

PACKAGE = "conservattack"
LIB_DIR = Path(__file__).resolve().parent.parent  # the package root, conservattack/


@functools.cache
def _exports(package: str) -> dict[str, str]:
    """The lazy exports of ``conservattack.<package>`` (``""``: the top level), public name ->
    module relative to the package, as its ``__init__.py`` declares them in ``_EXPORTS``."""
    init = _module_file(package)
    if init is None or init.name != "__init__.py":
        return {}
    tree = ast.parse(init.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _module_file(name: str) -> Path | None:
    """File of ``conservattack.<name>`` (a module or a subpackage), or None."""
    base = LIB_DIR.joinpath(*name.split(".")) if name else LIB_DIR
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_modules(path: Path) -> set[str]:
    """Dotted names (relative to the package) of the package modules ``path`` imports."""
    tree = ast.parse(path.read_text(), filename=str(path))
    inside = path.resolve().is_relative_to(LIB_DIR)
    here = ".".join(path.resolve().relative_to(LIB_DIR).with_suffix("").parts[:-1]) if inside else ""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == PACKAGE:
                    found.add(".".join(parts[1:]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import inside the package
                if not inside:
                    continue
                pkg = here.split(".") if here else []
                pkg = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                module = ".".join([*pkg, *(node.module.split(".") if node.module else [])])
            elif node.module and node.module.split(".")[0] == PACKAGE:
                module = ".".join(node.module.split(".")[1:])
            else:
                continue
            found.add(module)
            for alias in node.names:  # "from pkg import name": name may be a module or a lazy export
                sub = f"{module}.{alias.name}" if module else alias.name
                exports = _exports(module)
                if _module_file(sub) is not None:
                    found.add(sub)
                elif alias.name in exports:
                    found.add(f"{module}.{exports[alias.name]}" if module else exports[alias.name])
    return found


def module_dependencies(script) -> list[str]:
    """Sorted paths of the library files ``script`` depends on, transitively, including the
    package ``__init__.py`` files that importing them executes."""
    todo = [Path(script).resolve()]
    seen_files: set[Path] = set()
    deps: set[Path] = set()
    while todo:
        f = todo.pop()
        if f in seen_files:
            continue
        seen_files.add(f)
        for name in _imported_modules(f):
            parts = name.split(".") if name else []
            for k in range(len(parts) + 1):  # every enclosing package's __init__ runs first
                init = _module_file(".".join(parts[:k]))
                if init is not None and init.name == "__init__.py":
                    deps.add(init)
            target = _module_file(name)
            if target is not None:
                deps.add(target)
                todo.append(target)
    return sorted(str(p) for p in deps)
