"""Rule plot_scaling: fooling ratio, JSD and relative FN versus the attacked-set size."""

import pandas as pd

from conservattack.data.io import read_json
from conservattack.pipeline.runlog import logged
from conservattack.plots.scaling import save, scaling_figure
from conservattack.studies.scaling import paper_reference

with logged(snakemake):
    meta = read_json(snakemake.input.meta)
    table = pd.read_csv(snakemake.input.table)
    dataset = snakemake.params.dataset
    name = {"higgs": "Higgs", "ttww": "TT vs WW", "donut": "Donut"}.get(dataset, dataset)
    if meta["standin"]:  # "Higgs STAND-IN: smoothed bootstrap of ..."
        title = f"{name} {meta['data'].replace('stand-in', 'STAND-IN', 1)}"
    else:
        title = f"{name}: test split"
    title += f", {meta['model']} ({meta['n_attacked']:,} attacked events)"
    save(scaling_figure(table, paper_reference(dataset), title=title, standin=meta["standin"]), snakemake.output[0])
