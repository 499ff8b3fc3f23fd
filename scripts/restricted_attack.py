"""Rule restricted_attack: the control-region attack on one run's correctly classified test events."""

import numpy as np
import torch

from conservattack.pipeline.attack_inputs import load_attack_inputs
from conservattack.attacks.inference import predict_proba
from conservattack.data.io import read_json, write_json, write_parquet
from conservattack.attacks.params import AttackParams
from conservattack.pipeline.provenance import provenance
from conservattack.studies.restricted import Cut, restricted_attack
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import EVENT, adversaries_frame

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    cfg, seed = snakemake.params.attack, snakemake.params.seed
    inp = load_attack_inputs(snakemake.input.test, snakemake.input.scaler, snakemake.input.model, "correct")
    features, test, X, y, model, targets = inp.features, inp.events, inp.X, inp.y, inp.model, inp.targets
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
