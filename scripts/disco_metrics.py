"""Rule disco_metrics: study 9 numbers per method and run, and detector AUROC versus training size."""

import pandas as pd

from conservattack.attacks.disco import relative_dcor_frobenius
from conservattack.studies.detection import operating_point
from conservattack.attacks.inference import predict_proba
from conservattack.data.io import read_json, read_parquet, write_json
from conservattack.attacks.metrics import relative_frobenius_of_sets
from conservattack.models.mlp import load_model
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import split_adversaries

with logged(snakemake):
    inp, out = snakemake.input, snakemake.output
    features = MinMaxScaler.load(inp.scaler).features
    rows, sizes = [], []
    X_clean_test = read_parquet(inp.clean_test)[list(features)].to_numpy(float)
    # one input of each kind per (method, run), in the order of snakemake.params.runs
    for (method, run), attack, adv, detector, size, model, adv_test in zip(
            snakemake.params.runs, inp.attacks, inp.adversaries, inp.detectors, inp.sizes, inp.models, inp.adv_test):
        final = read_json(attack)["final"]
        X_clean, X_adv, _, _ = split_adversaries(read_parquet(adv), features)
        det = read_json(detector)
        detector_model = load_model(model)
        _, X_test_adv, _, fooled_test = split_adversaries(read_parquet(adv_test), features)
        at = operating_point(fooled_test, predict_proba(detector_model, X_test_adv),
                             predict_proba(detector_model, X_clean_test), snakemake.params.threshold)
        rows.append({"method": method, "run": int(run), "fooling_ratio": final["fooling_ratio"],
                     "jsd_mean": final["jsd_mean"], "jsd_max": final["jsd_max"],
                     "relative_fn_dcor": relative_dcor_frobenius(X_clean, X_adv),
                     "relative_fn_pearson": relative_frobenius_of_sets(X_clean, X_adv),
                     "detector_test_fooling_ratio": det["initial_fooling_ratio"],
                     "corrected_fooling_ratio": at["corrected_fooling_ratio"],
                     "detector_auroc": det["detector_auroc"],
                     "detector_efficiency_adversarial": at["detector_efficiency_adversarial"],
                     "detector_efficiency_clean": at["detector_efficiency_clean"]})
        sizes.append(pd.read_csv(size).assign(method=method, run=int(run)))
    per_run = pd.DataFrame(rows)
    per_run.to_csv(out.per_run, index=False)
    pd.concat(sizes, ignore_index=True).to_csv(out.sizes, index=False)
    summary = per_run.drop(columns="run").groupby("method").agg(["mean", "std"])
    print(summary.to_string())
    write_json({"methods": {m: {f"{c}_{s}": float(summary.loc[m, (c, s)]) for c, s in summary.columns}
                            for m in summary.index},
                **provenance({"disco": snakemake.config[snakemake.wildcards.dataset]["disco"]})}, out.summary)
