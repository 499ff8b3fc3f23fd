"""Rule plot_runs: per-run metrics, cross-run fooling matrix, fooling ratio per iteration."""

import pandas as pd

from conservattack.plots import figures as plots
from conservattack.data.io import read_json
from conservattack.studies.paper import paper_values
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    out = snakemake.output
    dataset = snakemake.wildcards.dataset
    per_run = pd.read_csv(snakemake.input.per_run)
    paper = paper_values(dataset)
    plots.save(plots.metrics_per_run(per_run, paper), out[0])
    plots.save(plots.cross_run_matrix(pd.read_csv(snakemake.input.matrix, index_col=0)), out[2])
    histories = {str(r): read_json(p)["history"] for r, p in enumerate(snakemake.input.attacks)}
    plots.save(plots.fooling_vs_iteration(histories), out[4])
