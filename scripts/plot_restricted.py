"""Rule plot_restricted: restricted attack per run (paper figures 6-8)."""

import pandas as pd

from conservattack.plots import figures as plots
from conservattack.studies.paper import paper_values
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    per_run = pd.read_csv(snakemake.input.per_run)
    paper = paper_values(snakemake.wildcards.dataset)
    fooling = [("fooling_ratio_cr", "Fooling ratio, CR"), ("fooling_ratio_sr", "Fooling ratio, SR"),
               ("fooling_ratio_all", "Fooling ratio, all")]
    plots.save(plots.metrics_per_run(per_run, paper, fooling), snakemake.output[0])
    cr = [("cr_jsd_mean", "Mean JSD, CR"), ("cr_relative_fn", "Relative FN, CR")]
    plots.save(plots.metrics_per_run(per_run, paper, cr), snakemake.output[2])
