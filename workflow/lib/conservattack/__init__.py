"""conservattack: adversarial samples that pass marginal and correlation checks (CONSERVAttack).

Public API::

    from conservattack import attack, AttackParams
    result = attack(model, X, y, AttackParams(min_change=0.001, step=0.002), mask=None)
    result.X_adv, result.fooled, result.history

Names are imported lazily from their modules (``_EXPORTS``), so that importing one module does not
import all of them: the workflow tracks which library modules each rule really uses
(``conservattack.deps``) and re-runs only those rules when a module changes.
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "attack": "attacks",
    "AttackResult": "attacks",
    "AttackParams": "params",
    "ParameterError": "params",
    "PaperMLP": "models",
}

__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'conservattack' has no attribute {name!r}")
