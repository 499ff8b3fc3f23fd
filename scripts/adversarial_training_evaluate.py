"""Rule adversarial_training_evaluate: every model of one run (base and each iteration) on the
test adversaries of every run, and on the clean test split (AUROC)."""

import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from conservattack.studies.adversarial_training import fooling_rows
from conservattack.attacks.inference import predict_proba
from conservattack.data.io import read_parquet
from conservattack.models.mlp import load_model
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import LABEL, features_and_labels, split_adversaries

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    inp, run = snakemake.input, int(snakemake.wildcards.run)
    features = MinMaxScaler.load(inp.scaler).features
    X_test, y_test = features_and_labels(read_parquet(inp.test, [*features, LABEL]), features)
    test_adversaries = {s: split_adversaries(read_parquet(f), features)[1:3] for s, f in enumerate(inp.adversaries)}
    rows = []
    for iteration, path in enumerate(inp.models):  # iteration 0: the base model
        model = load_model(path)
        probs = {s: predict_proba(model, X_adv) for s, (X_adv, _) in test_adversaries.items()}
        labels = {s: y for s, (_, y) in test_adversaries.items()}
        auroc = roc_auc_score(y_test, predict_proba(model, X_test))
        rows += [{**r, "auroc": auroc} for r in fooling_rows(run, iteration, labels, probs)]
    table = pd.DataFrame(rows)
    table.to_csv(snakemake.output[0], index=False)
    print(table.to_string())
