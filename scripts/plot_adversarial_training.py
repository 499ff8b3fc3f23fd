"""Rule plot_adversarial_training: fooling ratio of the base model, the mean over iterations and
the best iteration, grey-box and white-box, and clean AUROC per iteration (paper figures 12, 31)."""

import pandas as pd

from conservattack.plots import figures as plots
from conservattack.studies.paper import paper_values
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    per_run = pd.read_csv(snakemake.input.per_run)
    iterations = pd.read_csv(snakemake.input.iterations)
    fig = plots.adversarial_training(per_run, iterations, paper_values(snakemake.wildcards.dataset))
    plots.save(fig, snakemake.output[0])
