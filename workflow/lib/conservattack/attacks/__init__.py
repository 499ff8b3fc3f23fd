"""The attack (docs/method.md section 2): needs nothing but numpy arrays and a torch model.

``params`` (``AttackParams``), ``running_stats`` (exact running statistics), ``metrics``,
``inference`` (probabilities and gradient signs), ``state`` (``AttackState``), ``api``
(``attack()``), ``distance_stats`` (distance correlations from scratch, leave-one-out and jackknife),
``disco`` (the distance-correlation constraint), ``calibration`` (the calibrated constraints'
budgets), ``reference`` (the authors' rule), ``engines`` (numpy, naive, cpu, cuda).
"""

from .._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "attack": "api",
    "AttackResult": "api",
    "AttackParams": "params",
    "ParameterError": "params",
    "PARAMETERS": "params",
    "AttackState": "state",
    "candidate_cost": "state",
    "DiscoAttack": "disco",
    "distance_correlation_matrix": "distance_stats",
    "RunningDistanceCorrelation": "disco",
    "RunningHistograms": "running_stats",
    "RunningPearson": "running_stats",
    "pearson_matrix": "running_stats",
    "jsd_per_feature": "metrics",
    "relative_frobenius": "metrics",
    "relative_frobenius_of_sets": "metrics",
    "fooling_ratio": "metrics",
    "predict_proba": "inference",
    "loss_gradient_sign": "inference",
    "ENGINES": "engines",
    "resolve_engine": "engines",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
