"""conservattack: adversarial samples that pass marginal and correlation checks (CONSERVAttack).

Public API::

    from conservattack import attack, AttackParams
    result = attack(model, X, y, AttackParams(min_change=0.001, step=0.002), mask=None)
    result.X_adv, result.fooled, result.history
"""

from .attack import AttackResult, attack
from .params import AttackParams, ParameterError

__all__ = ["attack", "AttackParams", "AttackResult", "ParameterError", "__version__"]
__version__ = "0.1.0"
