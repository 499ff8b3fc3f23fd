"""Rule plot_detector: detector figures (paper figures 14, 15, 16, 32)."""

import pandas as pd

from conservattack.plots import figures as plots
from conservattack.studies.paper import paper_values
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    inp, out = snakemake.input, snakemake.output
    paper = paper_values(snakemake.wildcards.dataset)
    cols = [("initial_fooling_ratio", "Initial fooling ratio"), ("corrected_fooling_ratio", "Corrected fooling ratio"),
            ("detector_efficiency_adversarial", "Detector efficiency, adversaries"),
            ("detector_efficiency_clean", "Detector efficiency, clean")]
    plots.save(plots.metrics_per_run(pd.read_csv(inp.per_run), paper, cols), out[0])
    plots.save(plots.cross_run_matrix(pd.read_csv(inp.corrected, index_col=0),
                                      "Corrected fooling ratio (classifier and detector of run t)",
                                      "Corrected fooling ratio"), out[2])
    plots.save(plots.repeated_misclassification(pd.read_csv(inp.repeated)), out[4])
    acceptance = pd.read_csv(inp.acceptance)
    plots.save(plots.acceptance_curves({name: acceptance[acceptance["sample"] == name]
                                        for name in ("simulated", "real") if (acceptance["sample"] == name).any()}),
               out[6])
