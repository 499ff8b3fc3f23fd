"""Rule evaluate_detectors: the detector study's numbers across runs."""

import numpy as np
import pandas as pd
import torch

from conservattack.studies.detection import (acceptance_curve, binomial_consistency, operating_point, repeated_misclassification)
from conservattack.attacks.inference import predict_proba
from conservattack.data.io import read_parquet, write_json
from conservattack.models.mlp import load_model
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.studies.cross_run import cross_run_fooling
from conservattack.data.tables import features_and_labels, split_adversaries

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    features = MinMaxScaler.load(inp.scaler).features
    runs = [str(r) for r in range(len(inp.models))]
    classifiers = {r: load_model(f) for r, f in zip(runs, inp.models)}
    detectors = {r: load_model(f) for r, f in zip(runs, inp.detectors)}
    labels, probs, scores, own = {}, {}, {}, {}
    for s, path in zip(runs, inp.adversaries):
        X_clean, X_adv, labels[s], fooled = split_adversaries(read_parquet(path), features)
        own[s] = (X_clean, X_adv, fooled)
        for t in runs:
            probs[(s, t)] = predict_proba(classifiers[t], X_adv)
            scores[(s, t)] = predict_proba(detectors[t], X_adv)
    initial = cross_run_fooling(labels, probs)
    corrected = cross_run_fooling(labels, probs, scores, p.threshold)
    initial.to_csv(out.initial)
    corrected.to_csv(out.corrected)
    # The same clean events for every run's detector: all test events, both classes.
    X_test, _ = features_and_labels(read_parquet(inp.test), features)
    clean_scores = [predict_proba(detectors[r], X_test) for r in runs]
    rows = []
    for r in runs:
        X_clean, X_adv, fooled = own[r]
        rows.append({"run": int(r), "initial_fooling_ratio": float(fooled.mean()),
                     **operating_point(fooled, scores[(r, r)], clean_scores[int(r)], p.threshold)})
    per_run = pd.DataFrame(rows)
    per_run.to_csv(out.per_run, index=False)
    print(per_run.to_string())
    flags = np.vstack([s < p.threshold for s in clean_scores])
    table = repeated_misclassification(flags, alpha=p.significance)
    table.to_csv(out.repeated, index=False)
    print(table.to_string())
    thresholds = np.linspace(0.0, 1.0, 101)
    curves = [acceptance_curve(clean_scores, thresholds).assign(sample="simulated")]
    comparison = []
    if inp.real:  # the same detectors on real clean events
        X_real = read_parquet(inp.real[0], list(features))[list(features)].to_numpy(np.float64)
        real_scores = [predict_proba(detectors[r], X_real) for r in runs]
        curves.append(acceptance_curve(real_scores, thresholds).assign(sample="real"))
        for r in runs:  # one test per detector run: the events of one run are independent
            k_real, k_sim = int((real_scores[int(r)] < p.threshold).sum()), int(flags[int(r)].sum())
            comparison.append({"run": int(r), "flagged_real": k_real, "n_real": len(X_real), "flagged_sim": k_sim,
                               "n_sim": len(X_test), **binomial_consistency(k_real, len(X_real), k_sim, len(X_test), alpha=p.significance)})
    pd.concat(curves, ignore_index=True).to_csv(out.acceptance, index=False)
    pd.DataFrame(comparison, columns=["run", "flagged_real", "n_real", "flagged_sim", "n_sim", "rate_real",
                                      "rate_sim", "p_value", "consistent", "test"]).to_csv(out.real_vs_sim, index=False)
    write_json({"threshold": p.threshold, "n_clean_events": len(X_test), "clean_flag_rate": float(flags.mean()),
                "clean_flag_count": int(flags.sum()), "clean_flag_trials": int(flags.size),
                "repeated_p": table.attrs.get("p"), **provenance({"threshold": p.threshold,
                                                                  "significance": p.significance})}, out.meta)
