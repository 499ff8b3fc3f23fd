"""Rule plot_attack_run: marginals and correlation matrices of run 0's attack, physical units."""

import numpy as np

from conservattack.plots import figures as plots
from conservattack.data.units import feature_units
from conservattack.data.io import read_json, read_parquet
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.runlog import logged
from conservattack.attacks.running_stats import pearson_matrix
from conservattack.data.tables import features_and_labels, split_adversaries

with logged(snakemake):
    out = snakemake.output
    meta = read_json(snakemake.input.attack)
    scaler = MinMaxScaler.load(snakemake.input.scaler)
    features = list(scaler.features)
    units = feature_units(snakemake.params.dataset, features, snakemake.params.units)
    X_clean, X_adv, _, _ = split_adversaries(read_parquet(snakemake.input.adversaries), features)
    X_test, y_test = features_and_labels(read_parquet(snakemake.input.test), features)
    clean, adv = scaler.inverse(X_clean), scaler.inverse(X_adv)
    signal = scaler.inverse(X_test[y_test == 1])
    jsd = np.asarray(meta["final"]["jsd"])
    shown, titles = plots.jsd_extremes(jsd, X_clean)
    show_signal = meta["target"] == "correct_background"  # the attacked set is background only
    plots.save(plots.marginals(clean[:, shown], adv[:, shown], [features[j] for j in shown], jsd[shown],
                               meta["params"]["num_bins"], units=[units[j] for j in shown],
                               signal=signal[:, shown] if show_signal else None, titles=titles), out[0])
    plots.save(plots.correlation_matrices(pearson_matrix(X_clean), pearson_matrix(X_adv), features), out[2])
