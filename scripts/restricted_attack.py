"""Rule restricted_attack: the control-region attack on one run's correctly classified test events."""

import numpy as np
import torch

from conservattack.inference import predict_proba
from conservattack.io import read_json, read_parquet, write_json, write_parquet
from conservattack.models import load_model
from conservattack.params import AttackParams
from conservattack.preprocessing import MinMaxScaler
from conservattack.provenance import provenance
from conservattack.restricted import Cut, restricted_attack
from conservattack.runlog import logged
from conservattack.study import attack_targets
from conservattack.tables import EVENT, LABEL, adversaries_frame, features_and_labels

with logged(snakemake.log[0]):
    torch.set_num_threads(snakemake.threads)
    cfg, seed = snakemake.params.attack, snakemake.params.seed
    features = MinMaxScaler.load(snakemake.input.scaler).features
    test = read_parquet(snakemake.input.test, [*features, LABEL, EVENT])
    X, y = features_and_labels(test, features)
    model = load_model(snakemake.input.model)
    targets = attack_targets(y, predict_proba(model, X), "correct")
    c = read_json(snakemake.input.cut)
    cut = Cut(c["feature_index"], c["threshold_scaled"], c["signal_side"], c["accuracy"])
    control = cut.control_region(X[targets])
    params = AttackParams.from_config(cfg["params"], seed=seed)
    res = restricted_attack(model, X[targets], y[targets], params, control, engine=cfg["engine"])
    adv = adversaries_frame(test[EVENT].to_numpy()[targets], y[targets], features, X[targets], res.X_adv,
                            res.fooled, predict_proba(model, X[targets]), predict_proba(model, res.X_adv))
    adv["control_region"] = control
    write_parquet(adv, snakemake.output.adversaries)
    final = res.history[-1] if res.history else {}
    summary = {**res.fooling_ratios(), "n_targeted": int(targets.sum()), "n_control": int(control.sum()),
               "cr_jsd_mean": final.get("jsd_mean", np.nan), "cr_relative_fn": final.get("relative_fn", np.nan)}
    print(summary)
    write_json({**summary, "cut": c, "params": params.to_dict(), "cr_history": res.history,
                **provenance({"attack": cfg, "seed": seed})}, snakemake.output.meta)
