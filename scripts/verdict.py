"""Rule verdict: the analyst verdict of the proposed workflow, results/<dataset>/verdict.md."""

from pathlib import Path

import pandas as pd

from conservattack.studies.validation import validation_verdict
from conservattack.studies.verdict import verdict
from conservattack.data.io import read_json
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    per_run = pd.read_csv(snakemake.input.per_run)
    meta = read_json(snakemake.input.meta)
    comparison = pd.read_csv(snakemake.input.real_vs_sim)
    fr = per_run["corrected_fooling_ratio"]
    header = (f"# Verdict: {snakemake.params.dataset}\n\n"
              f"Corrected fooling ratio, mean over {len(per_run)} runs: {fr.mean():.4f} "
              f"(std {fr.std(ddof=1) if len(per_run) > 1 else 0.0:.4f}); "
              f"systematics budget {snakemake.params.budget}.\n\n")
    if comparison.empty:
        header += ("No real-data set is configured (`<dataset>.real_data`), so the real-vs-simulated "
                   "flag-rate comparison is not made.\n\n")
        text = verdict(float(fr.mean()), snakemake.params.budget, flag_rate_sim=meta["clean_flag_rate"])
    else:
        header += (f"Real vs simulated clean events flagged by the detector, per run (Fisher exact test): "
                   f"consistent in {int(comparison['consistent'].sum())} of {len(comparison)} runs; "
                   f"flag rate real {comparison['rate_real'].mean():.4f}, simulated "
                   f"{comparison['rate_sim'].mean():.4f} (means over runs). The line below is run 0's test.\n\n")
        first = comparison.iloc[0]
        consistency = {"rate_real": float(first.rate_real), "rate_sim": float(first.rate_sim),
                       "p_value": float(first.p_value), "consistent": bool(first.consistent), "test": first.test}
        text = verdict(float(fr.mean()), snakemake.params.budget, consistency=consistency)
    if snakemake.input.validation:  # <dataset>.validation.enabled: the attack study's adversaries
        text += validation_verdict(pd.read_csv(snakemake.input.validation[0]), snakemake.params.validation_level) + "\n"
    Path(snakemake.output[0]).write_text(header + text + "\n")
    print(header + text)
