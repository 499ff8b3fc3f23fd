"""Rule plot_detector_point_clouds: fooling adversaries that pass the detector (paper figure 21)."""

from conservattack import plots
from conservattack.inference import predict_proba
from conservattack.io import read_parquet
from conservattack.models import load_model
from conservattack.preprocessing import MinMaxScaler
from conservattack.runlog import logged
from conservattack.tables import split_adversaries

with logged(snakemake.log[0]):
    scaler = MinMaxScaler.load(snakemake.input.scaler)
    features = list(scaler.features)
    X_clean, X_adv, _, fooled = split_adversaries(read_parquet(snakemake.input.adversaries), features)
    passed = predict_proba(load_model(snakemake.input.detector), X_adv) >= snakemake.params.threshold
    fig = plots.detector_point_clouds(scaler.inverse(X_clean), scaler.inverse(X_adv), fooled, passed, features[:2],
                                      seed=snakemake.params.seed)
    plots.save(fig, snakemake.output[0])
