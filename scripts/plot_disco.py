"""Rule plot_disco: study 9 figures 22-25 (DisCo run 0 matrices and marginals, AUROC versus
training size, DisCo versus limited-data Pearson)."""

import numpy as np
import pandas as pd

from conservattack.plots import disco as disco_plots
from conservattack.plots import figures as plots
from conservattack.data.units import feature_units
from conservattack.attacks.disco import distance_correlation_matrix
from conservattack.data.io import read_json, read_parquet
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import split_adversaries

with logged(snakemake):
    inp, out = snakemake.input, snakemake.output
    scaler = MinMaxScaler.load(inp.scaler)
    features = list(scaler.features)
    X_clean, X_adv, _, _ = split_adversaries(read_parquet(inp.adversaries), features)
    plots.save(plots.correlation_matrices(distance_correlation_matrix(X_clean), distance_correlation_matrix(X_adv),
                                          features, kind="distance"), out[0])
    meta = read_json(inp.attack)
    jsd = np.asarray(meta["final"]["jsd"])
    shown, titles = plots.jsd_extremes(jsd, X_clean)
    units = feature_units(snakemake.params.dataset, features, snakemake.params.units)
    plots.save(plots.marginals(scaler.inverse(X_clean)[:, shown], scaler.inverse(X_adv)[:, shown],
                               [features[j] for j in shown], jsd[shown], meta["params"]["num_bins"],
                               units=[units[j] for j in shown],
                               titles=titles), out[2])
    plots.save(disco_plots.auroc_vs_training_size(pd.read_csv(inp.sizes)), out[4])
    full = pd.read_csv(inp.full_size[0]) if inp.full_size else None
    plots.save(disco_plots.disco_vs_pearson(pd.read_csv(inp.per_run), full), out[6])
