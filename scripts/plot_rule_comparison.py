"""Rule plot_rule_comparison: the exact and the reference rule per run, beside the paper's number."""

import pandas as pd

from conservattack.plots.rule_comparison import rule_comparison
from conservattack.plots.style import save
from conservattack.pipeline.runlog import logged
from conservattack.studies.paper import paper_values

with logged(snakemake):
    table = pd.read_csv(snakemake.input.table)
    save(rule_comparison(table, paper_values(snakemake.wildcards.dataset)), snakemake.output[0])
