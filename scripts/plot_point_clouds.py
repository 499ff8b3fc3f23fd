"""Rule plot_point_clouds: Donut point clouds of run 0 (paper figures 17-20)."""

from conservattack.plots import figures as plots
from conservattack.data.io import read_parquet
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import features_and_labels, split_adversaries

with logged(snakemake):
    scaler = MinMaxScaler.load(snakemake.input.scaler)
    features = list(scaler.features)
    X_clean, X_adv, _, fooled = split_adversaries(read_parquet(snakemake.input.adversaries), features)
    X_test, y_test = features_and_labels(read_parquet(snakemake.input.test), features)
    other = scaler.inverse(X_test[y_test == 1])  # the class that was not attacked (signal)
    fig = plots.point_clouds(other, scaler.inverse(X_clean), scaler.inverse(X_adv), fooled, features[:2],
                             seed=snakemake.params.seed)
    plots.save(fig, snakemake.output[0])
