"""What the paper reports: its attack parameter sets (docs/method.md section 2.12) and its numbers
(section 5), to put beside ours."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .glossary import metric_meaning, reference_metric

# The paper's attack parameter sets (docs/method.md section 2.12), one row per study and use, in
# AttackParams' names; a [low, high] pair is a range drawn per adversarial-training iteration.
# The config schema's per-dataset defaults are these rows (tests/studies/test_paper.py checks it),
# and the benchmark's cases use them (conservattack.bench.engines.CASES).
_HIGGS_TRAINING_RANGES = dict(min_change=[0.001, 0.005], step=[0.005, 0.03], n_iterations=10, num_bins=100,
                              alpha=[3.0, 10.0], beta=[0.5, 2.5], max_jsd_single_change=[0.005, 0.03],
                              max_frob_single_change=[0.0001, 0.001], use_no_change=True)
PAPER_PARAMETERS: dict[str, dict] = {
    "higgs_attack": dict(min_change=0.0005, step=0.0005, n_iterations=10, num_bins=200, alpha=4.0, beta=1.0,
                         max_jsd_single_change=0.006, max_frob_single_change=0.0002, use_no_change=True),
    "higgs_augmentation": dict(min_change=0.002, step=0.006, n_iterations=10, num_bins=200, alpha=6.5, beta=1.0,
                               max_jsd_single_change=0.01, max_frob_single_change=0.001, use_no_change=True),
    "higgs_detector": dict(min_change=0.003, step=0.02, n_iterations=10, num_bins=100, alpha=6.0, beta=1.0,
                           max_jsd_single_change=0.01, max_frob_single_change=0.0003, use_no_change=True),
    "higgs_adversarial_training_train": _HIGGS_TRAINING_RANGES,
    "higgs_adversarial_training_test": dict(min_change=0.003, step=0.01, n_iterations=10, num_bins=100, alpha=8.0,
                                            beta=1.0, max_jsd_single_change=0.01, max_frob_single_change=0.0003,
                                            use_no_change=True),
    "higgs_disco_attack": dict(min_change=0.015, step=0.06, n_iterations=10, num_bins=30, alpha=4.0, beta=1.0,
                               max_jsd_single_change=0.02, max_frob_single_change=0.0003, use_no_change=True),
    "higgs_disco_detector_train": dict(min_change=0.07, step=0.08, n_iterations=10, num_bins=30, alpha=4.0, beta=1.0,
                                       max_jsd_single_change=0.07, max_frob_single_change=0.0025, use_no_change=True),
    "higgs_disco_detector_test": dict(min_change=0.01, step=0.05, n_iterations=10, num_bins=30, alpha=4.0, beta=1.0,
                                      max_jsd_single_change=0.01, max_frob_single_change=0.00015, use_no_change=True),
    "higgs_limited_pearson": dict(min_change=0.005, step=0.02, n_iterations=10, num_bins=30, alpha=6.0, beta=1.0,
                                  max_jsd_single_change=0.02, max_frob_single_change=0.002, use_no_change=True),
    "ttww_attack": dict(min_change=0.005, step=0.01, n_iterations=10, num_bins=200, alpha=6.5, beta=1.0,
                        max_jsd_single_change=0.003, max_frob_single_change=0.003, use_no_change=True),
    "ttww_augmentation": dict(min_change=0.003, step=0.02, n_iterations=10, num_bins=100, alpha=6.5, beta=1.0,
                              max_jsd_single_change=0.1, max_frob_single_change=0.1, use_no_change=True),
    "ttww_detector": dict(min_change=0.01, step=0.01, n_iterations=10, num_bins=100, alpha=6.0, beta=1.0,
                          max_jsd_single_change=0.01, max_frob_single_change=0.03, use_no_change=False),
    "ttww_adversarial_training_train": _HIGGS_TRAINING_RANGES,  # "as Higgs ranges"
    "ttww_adversarial_training_test": dict(min_change=0.002, step=0.005, n_iterations=10, num_bins=100, alpha=8.0,
                                           beta=1.0, max_jsd_single_change=0.01, max_frob_single_change=0.0001,
                                           use_no_change=True),
    "donut_attack": dict(min_change=0.001, num_candidates=150, n_iterations=10, num_bins=70, alpha=6.0, beta=1.0,
                         max_jsd_single_change=0.005, max_frob_single_change=0.05, use_no_change=True),
    "donut_detector": dict(min_change=0.001, num_candidates=150, n_iterations=10, num_bins=60, alpha=6.0, beta=1.0,
                           max_jsd_single_change=0.005, max_frob_single_change=0.05, use_no_change=True),
}


# dataset -> metric -> (paper value or None, free-text statement from the paper)
PAPER_NUMBERS: dict[str, dict[str, tuple[float | None, str]]] = {
    "donut": {
        "fooling_ratio": (0.354, "initial fooling ratio 0.354"),
        "initial_fooling_ratio": (0.354, "detector study: initial fooling ratio 0.354"),
        "corrected_fooling_ratio": (0.153, "corrected fooling ratio 0.153 (detector study)"),
        "detector_efficiency_adversarial": (0.568, "detector efficiency 0.568 on adversaries"),
        "detector_efficiency_clean": (0.788, "detector efficiency 0.788 on clean events"),
    },
    "higgs": {
        "fooling_ratio": (0.89, "FR 0.89 mean over 10 runs"),
        "jsd_mean": (None, "mean JSD < 0.02 in 9 of 10 runs"),
        "relative_fn": (None, "relative FN < 0.2"),
        "corrected_fooling_ratio": (0.065, "detector study: corrected FR 0.05 to 0.08"),
        "auroc_gain": (0.01, "augmentation: about +1 percentage point clean AUROC, every run"),
        "fooling_ratio_sr": (1.0, "restricted attack: FR about 1 in SR"),
        "fooling_ratio_cr": (None, "restricted attack: FR lower in CR"),
        "fooling_ratio_all": (0.8, "restricted attack: FR about 0.8 overall"),
        "cr_jsd_mean": (0.05, "restricted attack: CR JSD about 0.05"),
        "cr_relative_fn": (0.09, "restricted attack: CR FN about 0.09"),
        "advtrain_grey_box_base": (0.70, "adversarial training: grey-box FR about 0.70 of the base model"),
        "advtrain_grey_box_mean": (0.20, "adversarial training: grey-box FR about 0.20, mean over iterations"),
        "advtrain_grey_box_best": (0.15, "adversarial training: grey-box FR 0.15 at the best iteration"),
        "disco_detector_test_fooling_ratio": (None, "DisCo vs Pearson (limited): DisCo initial FR lower"),
        "pearson_limited_detector_test_fooling_ratio": (None, "DisCo vs Pearson (limited): Pearson initial FR higher"),
        "disco_corrected_fooling_ratio": (None, "DisCo (limited): corrected FR higher than full-size Pearson"),
        "pearson_limited_corrected_fooling_ratio": (None, "Pearson (limited): corrected FR higher than full-size"),
    },
    "ttww": {
        "fooling_ratio": (0.675, "FR 0.675"),
        "jsd_mean": (0.045, "JSD 0.045"),
        "relative_fn": (0.182, "FN 0.182"),
        "repeated_misclassification_p_k2": (None, "repeated misclassification: significant excess at k = 2 of 10"),
        "repeated_misclassification_p_k3": (None, "repeated misclassification: significant excess at k = 3 of 10"),
        "repeated_misclassification_p_k4": (None, "repeated misclassification: significant excess at k = 4 of 10"),
        "clean_acceptance_real_at_0.8": (0.8, "real data: clean acceptance about 0.8 at thresholds above 0.8"),
        "clean_acceptance_simulated_at_0.8": (0.8, "real data: clean acceptance about 0.8 at thresholds above 0.8"),
        "real_vs_simulated_consistent": (None, "real data: real close to simulated (fraction of runs)"),
    },
}


# study 9's per-method prefixes in the summary, and the numbers of disco/metrics_per_run.csv it
# takes per method: the Pearson method's test attack is its detector-test attack, so its
# fooling_ratio would repeat detector_test_fooling_ratio
DISCO_PREFIXES = {"disco": "disco", "pearson": "pearson_limited"}
DISCO_METRICS = {"disco": ("fooling_ratio", "detector_test_fooling_ratio", "corrected_fooling_ratio"),
                 "pearson": ("detector_test_fooling_ratio", "corrected_fooling_ratio")}
# the threshold at which the summary reports clean acceptance (the paper's statement is about it)
ACCEPTANCE_THRESHOLD = 0.8


def paper_number(dataset: str, metric: str) -> tuple[float | None, str]:
    """The paper's number for ``metric`` of ``dataset`` and its statement ((None, "") where it has
    none). A reference-rule row (``<metric>_reference_c<k>``, also ``reported_<metric>_...``, the
    authors' own measure of it) gets the paper's number of ``<metric>``: the paper states one number,
    made by the authors' code, to set beside both rules; so does a calibrated row
    (``<metric>_calibrated``), to set beside the per-move limits' numbers."""
    numbers = PAPER_NUMBERS.get(dataset, {})
    if metric in numbers:
        return numbers[metric]
    base = reference_metric(metric)
    if base is not None:
        name = base[0].removeprefix("reported_")
        if name in numbers:
            value, statement = numbers[name]
            return value, f"{statement} (the paper's {name}, beside either rule)"
    name = metric.removesuffix("_calibrated")
    if name != metric and name in numbers:  # the calibrated attack's row
        value, statement = numbers[name]
        return value, f"{statement} (the paper's {name}, under its per-move limits)"
    return None, ""


def paper_values(dataset: str) -> dict[str, float | None]:
    """The paper's value of each metric of ``dataset`` (None where it gives only a statement)."""
    return {metric: value for metric, (value, _) in PAPER_NUMBERS.get(dataset, {}).items()}


def summary_table(dataset: str, per_run: pd.DataFrame, extra: dict[str, float] | None = None) -> pd.DataFrame:
    """Our numbers (mean, std, min, max over runs) beside the paper's, one row per metric, with
    the metric's meaning (``metric_meaning``). A run where a metric is undefined (NaN: e.g. a
    detector efficiency on adversaries when none fooled the classifier) is left out of that
    metric's numbers; ``n_runs`` counts the runs used."""
    paper = PAPER_NUMBERS.get(dataset, {})

    def row(metric, values, n_runs=None, note=""):
        v = np.asarray(values, float)
        v = v[~np.isnan(v)]
        nan = float("nan")
        ours = (v.mean(), v.std(ddof=1) if len(v) > 1 else nan, v.min(), v.max()) if len(v) else (nan,) * 4
        pv, ptxt = paper_number(dataset, metric)
        return {"dataset": dataset, "metric": metric, "meaning": metric_meaning(metric),
                **dict(zip(("ours_mean", "ours_std", "ours_min", "ours_max"), ours)),
                "n_runs": len(v) if n_runs is None else n_runs, "paper": pv, "paper_statement": ptxt + note}

    rows = [row(metric, per_run[metric]) for metric in per_run.columns if metric != "run"]
    rows += [row(metric, [value], n_runs=len(per_run)) for metric, value in (extra or {}).items()]
    computed = {r["metric"] for r in rows}
    # the paper's numbers this configuration did not compute
    rows += [row(metric, [], note=" (not computed by this study)") for metric in paper if metric not in computed]
    return pd.DataFrame(rows)


def merge_runs(per_run: pd.DataFrame, *studies: pd.DataFrame | None) -> pd.DataFrame:
    """The attack's per-run numbers beside each study's (``None``: not run), one row per run.
    A study may use fewer runs than the attack (``<dataset>.disco.runs``): its numbers are then
    NaN in the other runs, which summary_table leaves out, rather than dropping those runs."""
    for study in studies:
        if study is None:
            continue
        clash = (set(per_run.columns) & set(study.columns)) - {"run"}
        if clash:
            raise ValueError(f"per-run tables share the columns {sorted(clash)}: each metric must come from one study")
        per_run = per_run.merge(study, on="run", how="outer")
    return per_run.sort_values("run", ignore_index=True)


def disco_per_run(disco: pd.DataFrame) -> pd.DataFrame:
    """Study 9's fooling ratios per run, one column per method and metric (DISCO_METRICS:
    ``disco_corrected_fooling_ratio``, ``pearson_limited_detector_test_fooling_ratio``, ...), from
    the rows of disco/metrics_per_run.csv (one per method and run)."""
    unknown = sorted(set(disco["method"]) - set(DISCO_PREFIXES))
    if unknown:
        raise ValueError(f"disco metrics: unknown method(s) {unknown}; expected {sorted(DISCO_PREFIXES)}")
    out = pd.DataFrame({"run": sorted(set(disco["run"]))})
    for method, prefix in DISCO_PREFIXES.items():  # in DISCO_PREFIXES order, each method's own runs
        rows = disco[disco["method"] == method].set_index("run")[list(DISCO_METRICS[method])]
        if rows.empty:
            continue
        out = out.merge(rows.add_prefix(f"{prefix}_"), left_on="run", right_index=True, how="left")
    return out


def real_vs_simulated_per_run(comparison: pd.DataFrame) -> pd.DataFrame | None:
    """Per run, the detector's clean acceptance (1 - flag rate) on real clean events at the
    detector threshold (``detector_efficiency_clean_real``: the real-data counterpart of
    ``detector_efficiency_clean``) and whether the Fisher test found the real and simulated flag
    rates consistent (1/0), from detector/real_vs_simulated.csv; ``None`` when no real data was
    configured (no rows)."""
    if comparison.empty:
        return None
    return pd.DataFrame({"run": comparison["run"], "detector_efficiency_clean_real": 1.0 - comparison["rate_real"],
                         "real_vs_simulated_consistent": comparison["consistent"].astype(float)})


def detector_extras(repeated: pd.DataFrame, acceptance: pd.DataFrame) -> dict[str, float]:
    """Single numbers of the detector study for the summary: the Poisson p-value of an excess of
    clean events flagged in exactly k runs and its one-sided Gaussian significance
    (``repeated_misclassification_p_k<k>``, ``..._z_k<k>``, from
    detector/repeated_misclassification.csv) and the mean clean acceptance over runs at
    ACCEPTANCE_THRESHOLD per sample (``clean_acceptance_<sample>_at_0.8``, from
    detector/acceptance.csv)."""
    out = {f"repeated_misclassification_p_k{int(k)}": float(p) for k, p in zip(repeated["k"], repeated["p_value"])}
    out |= {f"repeated_misclassification_z_k{int(k)}": float(z) for k, z in zip(repeated["k"], repeated["z_value"])}
    at = acceptance[np.isclose(acceptance["threshold"], ACCEPTANCE_THRESHOLD)]
    if at.empty and not acceptance.empty:
        raise ValueError(f"the acceptance curve has no point at threshold {ACCEPTANCE_THRESHOLD:g}: its "
                         f"thresholds must include it (detector/acceptance.csv)")
    for sample, row in at.groupby("sample", sort=False):
        out[f"clean_acceptance_{sample}_at_{ACCEPTANCE_THRESHOLD:g}"] = float(row["mean"].iloc[0])
    return out
