"""Rule adversarial_training_attack: one iteration's training adversaries, from the run's initial
model, with attack parameters drawn from the configured ranges."""

import torch

from conservattack.studies.adversarial_training import draw_attack_params
from conservattack.pipeline.attack_inputs import attack_targets
from conservattack.attacks.api import attack
from conservattack.attacks.inference import predict_proba
from conservattack.data.io import read_parquet, write_json, write_parquet
from conservattack.models.mlp import load_model
from conservattack.attacks.params import AttackParams
from conservattack.data.preprocessing import MinMaxScaler, stratified_subset
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import EVENT, LABEL, adversaries_frame, features_and_labels

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    p, inp = snakemake.params, snakemake.input
    cfg = p.attack
    drawn = draw_attack_params(cfg["params"], seed=p.draw_seed)
    print("drawn attack parameters:", drawn)
    features = MinMaxScaler.load(inp.scaler).features
    events = read_parquet(inp.train, [*features, LABEL, EVENT])
    if p.attack_events is not None:  # a fixed stratified subset of the training set per iteration
        events = stratified_subset(events, min(p.attack_events, len(events)), seed=p.subset_seed)
    X, y = features_and_labels(events, features)
    model = load_model(inp.model)
    targets = attack_targets(y, predict_proba(model, X), cfg["target"])
    params = AttackParams.from_config(drawn, seed=p.attack_seed)
    result = attack(model, X[targets], y[targets], params, progress=True, engine=cfg.get("engine", "auto"),
                    batch_events=cfg.get("batch_events", 0))
    p_clean, p_adv = predict_proba(model, X[targets]), predict_proba(model, result.X_adv)
    write_parquet(adversaries_frame(events[EVENT].to_numpy()[targets], y[targets], features, X[targets],
                                    result.X_adv, result.fooled, p_clean, p_adv), snakemake.output.adversaries)
    final = result.history[-1]
    print({k: v for k, v in final.items() if k != "jsd"})
    write_json({
        "run": int(snakemake.wildcards.run), "iteration": int(snakemake.wildcards.iteration),
        "drawn_params": drawn, "params": params.to_dict(), "target": cfg["target"],
        "n_events": len(X), "n_targeted": int(targets.sum()), "n_fooled": int(result.fooled.sum()),
        "features": list(features), "final": final, "history": result.history,
        "seconds": sum(h["seconds"] for h in result.history),
        **provenance({"attack": cfg, "attack_events": p.attack_events, "draw_seed": p.draw_seed,
                      "subset_seed": p.subset_seed, "attack_seed": p.attack_seed}),
    }, snakemake.output.meta)
