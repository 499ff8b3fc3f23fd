"""The studies (docs/method.md section 4): cross-run fooling (``cross_run``), the adversarial
detector and repeated misclassification (``detection``), the analyst's verdict (``verdict``), the
restricted attack (``restricted``), adversarial training (``adversarial_training``), distance
correlation with limited data (``disco``, study 9), size scaling of the attacked set
(``scaling``), the validation of an attack against an independent sample
(``validation``), the paper's numbers (``paper``) and what each metric of the summary measures
(``glossary``)."""

from .._lazy import lazy_exports

# public name -> module that defines it
_EXPORTS = {
    "cross_run_fooling": "cross_run",
    "corrected_fooling_ratio": "detection",
    "repeated_misclassification": "detection",
    "acceptance_curve": "detection",
    "binomial_consistency": "detection",
    "restricted_attack": "restricted",
    "best_single_cut": "restricted",
    "draw_attack_params": "adversarial_training",
    "limited_detector_study": "disco",
    "PAPER_NUMBERS": "paper",
    "paper_values": "paper",
    "metric_meaning": "glossary",
    "run_scaling": "scaling",
    "scaling_table": "scaling",
    "validate": "validation",
    "validate_pair": "validation",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
