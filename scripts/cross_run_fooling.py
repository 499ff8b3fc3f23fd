"""Rule cross_run_fooling: every run's adversaries on every run's model; per-run metrics."""

import pandas as pd
import torch

from conservattack.attacks.inference import predict_proba
from conservattack.data.io import read_json, read_parquet
from conservattack.models.mlp import load_model
from conservattack.pipeline.runlog import logged
from conservattack.studies.cross_run import cross_run_fooling
from conservattack.data.tables import split_adversaries

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    metas = [read_json(p) for p in snakemake.input.attacks]
    features = metas[0]["features"]
    runs = [str(r) for r in range(len(metas))]
    models = {r: load_model(p) for r, p in zip(runs, snakemake.input.models)}
    labels, probabilities = {}, {}
    for s, path in zip(runs, snakemake.input.adversaries):
        _, X_adv, labels[s], _ = split_adversaries(read_parquet(path), features)
        for t in runs:
            probabilities[(s, t)] = predict_proba(models[t], X_adv)
    matrix = cross_run_fooling(labels, probabilities)
    matrix.to_csv(snakemake.output.matrix)
    print(matrix)
    per_run = pd.DataFrame([{
        "run": int(r), "fooling_ratio": m["final"]["fooling_ratio"], "jsd_mean": m["final"]["jsd_mean"],
        "jsd_median": m["final"]["jsd_median"], "jsd_max": m["final"]["jsd_max"],
        "relative_fn": m["final"]["relative_fn"], "n_targeted": m["n_targeted"], "attack_seconds": m["seconds"],
    } for r, m in zip(runs, metas)])
    per_run.to_csv(snakemake.output.per_run, index=False)
