"""Lazy exports for the package and its subpackages.

A package's ``__init__`` names its public objects in ``_EXPORTS`` (name -> module relative to the
package) and gets them from here on first use, so that importing one module does not import all
of them: the workflow tracks which library modules each rule really uses
(``conservattack.pipeline.deps`` reads ``_EXPORTS``) and re-runs only those rules when one changes.
"""

from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, exports: dict[str, str]):
    """``__getattr__`` and ``__dir__`` for the package ``package`` exporting ``exports``."""

    def __getattr__(name):
        if name in exports:
            return getattr(import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}; public names: {sorted(exports)}")

    def __dir__():
        return sorted(exports)

    return __getattr__, __dir__
