"""Rule plot_detector_point_clouds: fooling adversaries that pass the detector (paper figure 21)."""

from conservattack.plots import figures as plots
from conservattack.attacks.inference import predict_proba
from conservattack.data.io import read_parquet
from conservattack.models.mlp import load_model
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import split_adversaries

with logged(snakemake):
    scaler = MinMaxScaler.load(snakemake.input.scaler)
    features = list(scaler.features)
    X_clean, X_adv, _, fooled = split_adversaries(read_parquet(snakemake.input.adversaries), features)
    passed = predict_proba(load_model(snakemake.input.detector), X_adv) >= snakemake.params.threshold
    fig = plots.detector_point_clouds(scaler.inverse(X_clean), scaler.inverse(X_adv), fooled, passed, features[:2],
                                      seed=snakemake.params.seed)
    plots.save(fig, snakemake.output[0])
