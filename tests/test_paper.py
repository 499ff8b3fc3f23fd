"""The summary table beside the paper's numbers (conservattack.paper.summary_table)."""

import numpy as np
import pandas as pd
import pytest

from conservattack.paper import PAPER_NUMBERS, summary_table


def test_summary_table_statistics_and_undefined_runs():
    per_run = pd.DataFrame({"run": [0, 1, 2], "fooling_ratio": [0.2, 0.4, 0.6],
                            "detector_efficiency_adversarial": [0.9, np.nan, 0.7], "never": [np.nan] * 3})
    table = summary_table("donut", per_run).set_index("metric")
    fr = table.loc["fooling_ratio"]
    assert (fr.ours_mean, fr.ours_min, fr.ours_max, fr.n_runs) == (pytest.approx(0.4), 0.2, 0.6, 3)
    assert fr.ours_std == pytest.approx(0.2)
    eff = table.loc["detector_efficiency_adversarial"]  # the run without fooled adversaries is left out
    assert eff.ours_mean == pytest.approx(0.8) and eff.n_runs == 2 and eff.ours_std == pytest.approx(np.std([0.9, 0.7], ddof=1))
    assert np.isnan(table.loc["never", "ours_mean"]) and table.loc["never", "n_runs"] == 0
    for metric in PAPER_NUMBERS["donut"]:  # every paper number has a row, computed or not
        assert metric in table.index
