"""Rule verdict: the analyst verdict of the proposed workflow, results/<dataset>/verdict.md."""

from pathlib import Path

import pandas as pd

from conservattack.detection import verdict
from conservattack.io import read_json
from conservattack.runlog import logged

with logged(snakemake.log[0]):
    per_run = pd.read_csv(snakemake.input.per_run)
    meta = read_json(snakemake.input.meta)
    text = verdict(float(per_run["corrected_fooling_ratio"].mean()), snakemake.params.budget,
                   flag_rate_sim=meta["clean_flag_rate"])
    header = (f"# Verdict: {snakemake.params.dataset}\n\n"
              f"Corrected fooling ratio, mean over {len(per_run)} runs: "
              f"{per_run['corrected_fooling_ratio'].mean():.4f} "
              f"(std {per_run['corrected_fooling_ratio'].std(ddof=1) if len(per_run) > 1 else 0.0:.4f}); "
              f"systematics budget {snakemake.params.budget}. "
              f"No real-data set is configured for this dataset, so the real-vs-simulated flag-rate "
              f"comparison is not made.\n\n")
    Path(snakemake.output[0]).write_text(header + text + "\n")
    print(header + text)
