"""Numbers the paper reports (SPEC section 5), to put beside ours."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
    },
    "ttww": {
        "fooling_ratio": (0.675, "FR 0.675"),
        "jsd_mean": (0.045, "JSD 0.045"),
        "relative_fn": (0.182, "FN 0.182"),
    },
}


def paper_values(dataset: str) -> dict[str, float | None]:
    """The paper's value of each metric of ``dataset`` (None where it gives only a statement)."""
    return {metric: value for metric, (value, _) in PAPER_NUMBERS.get(dataset, {}).items()}


def summary_table(dataset: str, per_run: pd.DataFrame, extra: dict[str, float] | None = None) -> pd.DataFrame:
    """Our numbers (mean, std, min, max over runs) beside the paper's, one row per metric. A run
    where a metric is undefined (NaN: e.g. a detector efficiency on adversaries when none fooled
    the classifier) is left out of that metric's numbers; ``n_runs`` counts the runs used."""
    paper = PAPER_NUMBERS.get(dataset, {})
    rows = []
    nan = float("nan")
    for metric in [c for c in per_run.columns if c != "run"]:
        v = per_run[metric].to_numpy(float)
        v = v[~np.isnan(v)]
        pv, ptxt = paper.get(metric, (None, ""))
        rows.append({"dataset": dataset, "metric": metric, "ours_mean": v.mean() if len(v) else nan,
                     "ours_std": v.std(ddof=1) if len(v) > 1 else nan,
                     "ours_min": v.min() if len(v) else nan, "ours_max": v.max() if len(v) else nan,
                     "n_runs": len(v), "paper": pv, "paper_statement": ptxt})
    for metric, value in (extra or {}).items():
        pv, ptxt = paper.get(metric, (None, ""))
        rows.append({"dataset": dataset, "metric": metric, "ours_mean": value, "ours_std": float("nan"),
                     "ours_min": value, "ours_max": value, "n_runs": len(per_run),
                     "paper": pv, "paper_statement": ptxt})
    for metric, (pv, ptxt) in paper.items():  # the paper's numbers this configuration did not compute
        if metric not in {r["metric"] for r in rows}:
            rows.append({"dataset": dataset, "metric": metric, "ours_mean": float("nan"),
                         "ours_std": float("nan"), "ours_min": float("nan"), "ours_max": float("nan"),
                         "n_runs": 0, "paper": pv, "paper_statement": ptxt + " (not computed by this study)"})
    return pd.DataFrame(rows)
