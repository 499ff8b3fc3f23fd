"""Rule scaling_attack: one rule configuration's attack of one subset of the size-scaling study
(the attacked set's first n events)."""

import torch

from conservattack.attacks.api import attack
from conservattack.attacks.params import AttackParams
from conservattack.data.io import read_json, read_parquet, write_json
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.data.tables import LABEL, features_and_labels
from conservattack.models.mlp import load_model
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.studies.scaling import RuleConfig, size_value

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    w, p, inp = snakemake.wildcards, snakemake.params, snakemake.input
    meta = read_json(inp.meta)
    features = MinMaxScaler.load(inp.scaler).features
    n = size_value(w.size, meta["n_attacked"])
    events = read_parquet(inp.attacked, [*features, LABEL]).iloc[:n]
    X, y = features_and_labels(events, features)
    config = RuleConfig.parse(w.config)
    params = AttackParams.from_config(config.params(p.attack["params"], p.calibration), seed=p.seed)
    engine = p.attack.get("engine", "auto")
    if config.rule != "exact" and engine not in ("numpy", "cpu"):
        engine = "auto"  # the reference rule's own engine, or one with the calibrated constraints (not cuda)
    print(f"{meta['data']}: {config.label}, {n} of {meta['n_attacked']} attacked events, engine {engine}")
    result = attack(load_model(inp.model), X, y, params, progress=True, engine=engine,
                    batch_events=p.attack.get("batch_events", 0))
    final = result.history[-1]
    print({k: v for k, v in final.items() if not isinstance(v, list)})
    write_json({"dataset": w.dataset, "standin": meta["standin"], "data": meta["data"], "model": meta["model"],
                "size": n, "size_token": w.size, "n_attacked": meta["n_attacked"], "rule_config": config.name,
                "rule": config.rule, "n_chunks": config.n_chunks, "engine": engine, "params": params.to_dict(),
                "final": final, "history": result.history, "seconds": sum(h["seconds"] for h in result.history),
                **provenance({"attack": p.attack, "seed": p.seed})}, snakemake.output[0])
