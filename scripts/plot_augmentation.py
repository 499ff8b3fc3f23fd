"""Rule plot_augmentation: clean test AUROC, base vs augmented (paper figures 10, 30)."""

import pandas as pd

from conservattack.plots import figures as plots
from conservattack.studies.paper import paper_values
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    per_run = pd.read_csv(snakemake.input.per_run)
    paper = paper_values(snakemake.wildcards.dataset)
    cols = [("auroc_base", "Clean AUROC, base"), ("auroc_augmented", "Clean AUROC, augmented"),
            ("auroc_gain", "AUROC gain (augmented - base)")]
    plots.save(plots.metrics_per_run(per_run, paper, cols), snakemake.output[0])
