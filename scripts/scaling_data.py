"""Rule scaling_data: the size-scaling study's attacked set (the test split's targeted events of
its model) in one seeded random order, the configured sizes checked against it."""

import numpy as np

from conservattack.data.io import read_json, write_json, write_parquet
from conservattack.data.standin import SOURCE_EVENT, STANDIN
from conservattack.data.tables import EVENT, LABEL
from conservattack.pipeline.attack_inputs import load_attack_inputs
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.studies.scaling import check_sizes, nested_order, size_tokens, size_value

with logged(snakemake):
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    dataset = snakemake.wildcards.dataset
    loaded = load_attack_inputs(inp.test, inp.scaler, inp.model, p.target)
    targeted = np.flatnonzero(loaded.targets)
    n = len(targeted)
    sizes = snakemake.config[dataset]["scaling"]["sizes"]  # no param: a new size must not re-select the set
    check_sizes(sizes, f"{dataset}.scaling.sizes", n,
                what=f"the attacked set ({n} '{p.target}' events of {inp.test} on {inp.model})")
    order = targeted[nested_order(n, p.seed)]
    columns = [*loaded.features, LABEL, EVENT] + ([SOURCE_EVENT] if SOURCE_EVENT in loaded.events.columns else [])
    frame = loaded.events.iloc[order][columns].reset_index(drop=True)
    write_parquet(frame, out.attacked)
    standin = bool(inp.standin)
    if standin:
        data = read_json(inp.standin)["description"]
        model = f"model trained on the {STANDIN}'s training split"
    else:
        data = f"{dataset} test split"
        model = f"model of run {p.run}"
    print(f"{n} attacked events of {len(loaded.X)} ({data}; {model}); sizes now "
          f"{[size_value(token, n) for token in size_tokens(sizes)]}")
    write_json({"dataset": dataset, "standin": standin, "data": data, "model": model, "target": p.target,
                "n_test": len(loaded.X), "n_attacked": n, "features": list(loaded.features),
                **provenance({"target": p.target, "run": p.run, "seed": p.seed})}, out.meta)
