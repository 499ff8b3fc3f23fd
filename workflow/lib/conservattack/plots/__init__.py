"""Figures in mplhep style, written as PNG and PDF: ``style`` (colours, ``save``), ``figures``
(the attack and detector studies), ``disco`` (study 9), ``scaling`` (size scaling), ``validation``
(an attack against an independent sample)."""

from .._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "save": "style",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
