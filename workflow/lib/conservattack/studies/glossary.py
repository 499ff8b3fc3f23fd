"""What each metric of the summary measures, in one sentence: summary.csv's ``meaning`` column
and the report's captions (``conservattack.pipeline.report``)."""

from __future__ import annotations

import re

# JSD: Jensen-Shannon distance (log base 2) of a feature's clean and adversarial histograms; FN:
# the Frobenius norm of the change of the correlation matrix (docs/method.md section 2.11).
METRIC_MEANINGS: dict[str, str] = {
    "fooling_ratio": "Fraction of the attacked events whose predicted class the attack flipped, on the run's own model.",
    "jsd_mean": "Jensen-Shannon distance between a feature's clean and adversarial histograms, mean over the features; "
                "0 means identical marginals.",
    "jsd_median": "Jensen-Shannon distance between a feature's clean and adversarial histograms, median over the features.",
    "jsd_max": "Jensen-Shannon distance between a feature's clean and adversarial histograms, largest over the features.",
    "relative_fn": "Frobenius norm of the change of the Pearson correlation matrix, C_adv - C_clean, over that of the "
                   "clean matrix C_clean; 0 means unchanged correlations.",
    "attack_seconds": "Wall time of the attack, seconds.",
    "fooling_ratio_cr": "Restricted attack: fooling ratio of the attacked events in the control region (CR), the "
                        "background-enriched side of the best single cut.",
    "fooling_ratio_sr": "Restricted attack: fooling ratio of the attacked events in the signal region (SR).",
    "fooling_ratio_all": "Restricted attack: fooling ratio over all attacked events, CR and SR together.",
    "cr_jsd_mean": "Restricted attack: mean Jensen-Shannon distance of the marginals in the control region.",
    "cr_relative_fn": "Restricted attack: relative Frobenius norm of the change of the Pearson matrix in the control "
                      "region.",
    "initial_fooling_ratio": "Detector study: fooling ratio of the detector study's test adversaries on the run's "
                             "classifier, before the detector.",
    "corrected_fooling_ratio": "Fraction of the attacked events that fool the classifier and pass the adversarial "
                               "detector (its output at or above the threshold): the exposure that remains.",
    "detector_efficiency_adversarial": "Fraction of the fooling adversaries that the detector flags.",
    "detector_efficiency_clean": "Fraction of the clean simulated test events that the detector accepts.",
    "detector_efficiency_clean_real": "Fraction of the real (collision) events that the detector accepts.",
    "real_vs_simulated_consistent": "Fraction of the runs whose detector flags real and simulated clean events at "
                                    "rates a Fisher test finds consistent.",
    "auroc_base": "Augmentation: clean test AUROC of the base model, trained on the reduced training set.",
    "auroc_augmented": "Augmentation: clean test AUROC of the model retrained with the fooled adversaries added (true "
                       "labels).",
    "auroc_gain": "Augmentation: augmented minus base clean test AUROC of the same run.",
    "augmentation_fooling_ratio": "Augmentation: fooling ratio of the attack on the reduced training set.",
    "advtrain_grey_box_base": "Adversarial training: fooling ratio of the other runs' test adversaries on the base "
                              "model (grey box).",
    "advtrain_grey_box_mean": "Adversarial training: grey-box fooling ratio, mean over the retrained models.",
    "advtrain_grey_box_best": "Adversarial training: grey-box fooling ratio of the best iteration (the lowest).",
    "advtrain_white_box_base": "Adversarial training: fooling ratio of the run's own test adversaries on the base model "
                               "(white box).",
    "advtrain_white_box_mean": "Adversarial training: white-box fooling ratio, mean over the retrained models.",
    "advtrain_white_box_at_best": "Adversarial training: white-box fooling ratio at the best (grey-box) iteration.",
    "advtrain_auroc_base": "Adversarial training: clean test AUROC of the base model.",
    "advtrain_auroc_mean": "Adversarial training: clean test AUROC, mean over the retrained models.",
    "advtrain_auroc_at_best": "Adversarial training: clean test AUROC at the best (grey-box) iteration.",
    "advtrain_best_iteration": "Adversarial training: the iteration with the lowest grey-box fooling ratio.",
    "cross_run_white_box_mean": "Cross-run matrix: mean of its diagonal, each run's adversaries on its own model "
                                "(white box).",
    "cross_run_grey_box_mean": "Cross-run matrix: mean of its off-diagonal entries, a run's adversaries on another "
                               "run's model (grey box).",
    "cross_run_grey_box_std": "Cross-run matrix: standard deviation of its off-diagonal (grey-box) entries.",
    # study 9's per-run columns (disco/metrics_per_run.csv), also in the summary with a method prefix
    "detector_test_fooling_ratio": "Fooling ratio of the detector's test adversaries on the run's classifier, before "
                                   "the detector.",
    "detector_auroc": "AUROC of the detector separating clean test events from fooling adversaries.",
    "relative_fn_dcor": "Relative Frobenius norm of the change of the distance-correlation matrix.",
    "relative_fn_pearson": "Relative Frobenius norm of the change of the Pearson correlation matrix.",
    # the rule comparison's columns (rule_comparison.csv), in the summary as <metric>_reference_c<k>
    "reported_jsd_mean": "Jensen-Shannon distance of the marginals as the authors' code reports it (clean "
                         "histograms of the uncast data, floored densities), mean over the features.",
    "reported_relative_fn": "Relative Frobenius norm of the change of the whole Pearson matrix as the authors' code "
                            "reports it (over the clean matrix's norm plus 1e-10).",
    "cross_chunk_max_shift": "Largest change of a Pearson correlation between two features in different chunks, "
                             "which the reference rule never checks.",
    "within_chunk_max_shift": "Largest change of a Pearson correlation between two features of the same chunk, "
                              "which the reference rule checks move by move.",
    # the calibrated attack's columns, in the summary as <metric>_calibrated
    "jsd_budget_ratio_max": "Largest ratio of a feature's Jensen-Shannon distance to its calibrated budget (at most "
                            "1 by construction).",
    "corr_budget_ratio_max": "Largest ratio of a Pearson coefficient's change to its calibrated budget, z times its "
                             "bootstrap standard deviation (at most 1 by construction).",
}
_METHOD_NAMES = {"disco": "DisCo attack (distance-correlation constraint)",
                 "pearson_limited": "Pearson attack on the same limited sizes"}
_REFERENCE_METRIC = re.compile(r"(?P<metric>\w+?)_reference_c(?P<chunks>\d+)")


def reference_metric_name(metric: str, chunks: int) -> str:
    """The summary's name of ``metric`` under the reference rule with ``chunks`` feature chunks
    (the rule comparison, conservattack.studies.rule_comparison): ``<metric>_reference_c<chunks>``."""
    return f"{metric}_reference_c{int(chunks)}"


def calibrated_metric_name(metric: str) -> str:
    """The summary's name of ``metric`` of the attack under calibrated constraints (the rule
    comparison's ``calibrated`` setting): ``<metric>_calibrated``."""
    return f"{metric}_calibrated"


def reference_metric(name: str) -> tuple[str, int] | None:
    """(metric, chunk count) of a summary row ``<metric>_reference_c<k>``; None for another name."""
    m = _REFERENCE_METRIC.fullmatch(name)
    return (m.group("metric"), int(m.group("chunks"))) if m else None


def metric_meaning(metric: str) -> str:
    """One sentence saying what ``metric`` (a row of summary.csv) measures; "" for a name this
    table does not know (tests/pipeline/test_report.py checks that every metric the studies write is
    known)."""
    if metric in METRIC_MEANINGS:
        return METRIC_MEANINGS[metric]
    for prefix, method in _METHOD_NAMES.items():  # study 9: <prefix>_<metric>
        if metric.startswith(prefix + "_") and metric[len(prefix) + 1:] in METRIC_MEANINGS:
            inner = METRIC_MEANINGS[metric[len(prefix) + 1:]]
            return f"{method}: {inner[0].lower()}{inner[1:]}"
    if (reference := reference_metric(metric)) and reference[0] in METRIC_MEANINGS:
        inner, k = METRIC_MEANINGS[reference[0]], reference[1]
        measured = ", as the exact rule measures it" if reference[0] in ("jsd_mean", "jsd_max", "relative_fn") else ""
        inner = inner if inner.startswith(("Jensen", "Frobenius")) else inner[0].lower() + inner[1:]  # names stay
        return (f"Reference rule (the authors' code, emulated) with {k} feature chunk{'' if k == 1 else 's'}, on the "
                f"same runs, events and parameters{measured}: {inner}")
    if metric.endswith("_calibrated") and (inner := METRIC_MEANINGS.get(metric[: -len("_calibrated")])):
        inner = inner if inner.startswith(("Jensen", "Frobenius")) else inner[0].lower() + inner[1:]
        return ("Calibrated constraints (budgets from bootstrap resamples of the attacked set, docs/method.md "
                f"section 2.13), on the same runs, events and parameters: {inner}")
    if m := re.fullmatch(r"repeated_misclassification_p_k(\d+)", metric):
        return (f"Poisson p-value of the excess of clean test events flagged by exactly {m.group(1)} of the detector "
                f"runs over the binomial expectation.")
    if m := re.fullmatch(r"repeated_misclassification_z_k(\d+)", metric):
        return (f"One-sided Gaussian significance of that excess at k = {m.group(1)} (0 where there is no excess).")
    if m := re.fullmatch(r"clean_acceptance_(\w+?)_at_([\d.]+)", metric):
        return (f"Fraction of the {m.group(1)} clean events that the detector accepts at threshold {m.group(2)}, "
                f"mean over runs.")
    return ""
