"""Rule summary: our numbers beside the paper's."""

import pandas as pd

from conservattack.studies.paper import (detector_extras, disco_per_run, merge_runs, real_vs_simulated_per_run, summary_table)
from conservattack.pipeline.runlog import logged
from conservattack.studies.cross_run import grey_box_summary
from conservattack.studies.rule_comparison import comparison_per_run

inp = snakemake.input


def study(name, drop=()):
    """The per-run table of a study the dataset runs (None if it does not), less its counts."""
    paths = getattr(inp, name)
    return pd.read_csv(paths[0]).drop(columns=list(drop)) if paths else None


with logged(snakemake):
    per_run = pd.read_csv(inp.per_run)[["run", "fooling_ratio", "jsd_mean", "jsd_median", "jsd_max", "relative_fn"]]
    extra = {f"cross_run_{k}": v for k, v in grey_box_summary(pd.read_csv(inp.matrix, index_col=0)).items()}
    real = None
    if inp.detector:
        real = real_vs_simulated_per_run(pd.read_csv(inp.real_vs_sim[0]))
        extra.update(detector_extras(pd.read_csv(inp.repeated[0]), pd.read_csv(inp.acceptance[0])))
    metrics = merge_runs(per_run, study("restricted", ["n_targeted", "n_control"]), study("detector"), real,
                         study("augmentation", ["n_attacked"]), study("adversarial_training"),
                         disco_per_run(study("disco")) if inp.disco else None,
                         comparison_per_run(study("rule_comparison")) if inp.rule_comparison else None)
    table = summary_table(snakemake.wildcards.dataset, metrics, extra)
    table.to_csv(snakemake.output[0], index=False, float_format="%.6g")
    print(table.to_string())
