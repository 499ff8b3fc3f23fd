"""Rule summary: our numbers beside the paper's."""

import pandas as pd

from conservattack.runlog import logged
from conservattack.paper import summary_table
from conservattack.study import grey_box_summary

with logged(snakemake.log[0]):
    per_run = pd.read_csv(snakemake.input.per_run)
    matrix = pd.read_csv(snakemake.input.matrix, index_col=0)
    metrics = per_run[["run", "fooling_ratio", "jsd_mean", "jsd_median", "jsd_max", "relative_fn"]]
    if snakemake.input.restricted:  # the restricted attack's numbers, run by run
        restricted = pd.read_csv(snakemake.input.restricted[0]).drop(columns=["n_targeted", "n_control"])
        metrics = metrics.merge(restricted, on="run")
    if snakemake.input.detector:  # the detector study's numbers, run by run
        metrics = metrics.merge(pd.read_csv(snakemake.input.detector[0]), on="run")
    if snakemake.input.augmentation:  # the augmentation study's numbers, run by run
        metrics = metrics.merge(pd.read_csv(snakemake.input.augmentation[0]).drop(columns=["n_attacked"]), on="run")
    if snakemake.input.adversarial_training:  # the adversarial-training study's numbers, run by run
        metrics = metrics.merge(pd.read_csv(snakemake.input.adversarial_training[0]), on="run")
    extra = {f"cross_run_{k}": v for k, v in grey_box_summary(matrix).items()}
    table = summary_table(snakemake.wildcards.dataset, metrics, extra)
    table.to_csv(snakemake.output[0], index=False, float_format="%.6g")
    print(table.to_string())
