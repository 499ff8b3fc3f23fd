"""Rules attack and detector_attack: CONSERVAttack on one run's targeted events of a split."""

import torch

from conservattack.pipeline.attack_inputs import load_attack_inputs
from conservattack.attacks.api import attack
from conservattack.attacks.inference import predict_proba
from conservattack.data.io import write_json, write_parquet
from conservattack.attacks.params import AttackParams
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import EVENT, adversaries_frame

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    cfg, seed = snakemake.params.attack, snakemake.params.seed
    inp = load_attack_inputs(snakemake.input.events, snakemake.input.scaler, snakemake.input.model, cfg["target"])
    features, test, X, y, model, targets = inp.features, inp.events, inp.X, inp.y, inp.model, inp.targets
    params = AttackParams.from_config(cfg["params"], seed=seed)
    result = attack(model, X[targets], y[targets], params, progress=True, engine=cfg.get("engine", "auto"),
                    batch_events=cfg.get("batch_events", 0))
    p_clean = predict_proba(model, X[targets])
    p_adv = predict_proba(model, result.X_adv)
    write_parquet(adversaries_frame(test[EVENT].to_numpy()[targets], y[targets], features, X[targets],
                                    result.X_adv, result.fooled, p_clean, p_adv),
                  snakemake.output.adversaries)
    final = result.history[-1]
    print({k: v for k, v in final.items() if k != "jsd"})
    write_json({
        "target": cfg["target"], "engine": cfg.get("engine", "auto"), "n_test": len(X),
        "n_targeted": int(targets.sum()),
        "params": params.to_dict(), "features": list(features),
        "final": final, "history": result.history,
        **({"budgets": result.budgets} if result.budgets is not None else {}),
        "seconds": sum(h["seconds"] for h in result.history),
        **provenance({"attack": cfg, "seed": seed}),
    }, snakemake.output.meta)
