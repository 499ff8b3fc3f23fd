"""Rule validate_attack: one attack's clean and adversarial sets against an independent sample, the
validation split's events of the attacked classes (docs/method.md section 9)."""

import torch

from conservattack.attacks.inference import predict_proba
from conservattack.data.io import read_json, read_parquet, write_json
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.data.tables import features_and_labels, split_adversaries
from conservattack.models.mlp import load_model
from conservattack.pipeline.attack_inputs import attack_targets
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.plots import validation as plots
from conservattack.plots.style import plt
from conservattack.studies.validation import attack_edges, check_independent, summary_line, validate_pair

with logged(snakemake):
    torch.set_num_threads(snakemake.threads)
    inp, out, cfg = snakemake.input, snakemake.output, snakemake.params.validation
    meta = read_json(inp.attack)
    features = list(MinMaxScaler.load(inp.scaler).features)
    X_clean, X_adv, _, _ = split_adversaries(read_parquet(inp.adversaries), features)
    num_bins = int(meta["params"]["num_bins"])
    # the independent sample: the validation split's events the attack would have targeted, selected
    # by the same model and target (the attacked set is the test split's, selected the same way)
    val = read_parquet(inp.independent)
    check_independent(val, [*features, "label"], 0, name=f"{inp.independent} (independent sample)")
    X_val, y_val = features_and_labels(val, features)
    keep = attack_targets(y_val, predict_proba(load_model(inp.model), X_val), meta["target"])
    independent = X_val[keep]
    check_independent(independent, features, num_bins,
                      name=f"{inp.independent} (independent sample: its '{meta['target']}' events by {inp.model}; "
                           f"num_bins from {inp.attack}, config {snakemake.params.num_bins_key})")
    edges = attack_edges(X_clean, num_bins)
    table, summary = validate_pair(X_clean, X_adv, independent, edges, resamples=cfg["resamples"],
                                   seed=snakemake.params.seed, level=cfg["level"], features=features)
    line = summary_line(summary)
    figure = plots.validation(table, summary, features)
    record = {**summary, "summary": line, "target": meta["target"], "num_bins": num_bins,
              "n_validation_split": int(len(val)),
              "independent": "validation split, events of the attacked classes selected by the run's model",
              **provenance({"validation": cfg, "seed": snakemake.params.seed})}
    # everything computed: write the three outputs (a failure above leaves none)
    table.to_csv(out.table, index=False, float_format="%.6g")
    write_json(record, out.summary)
    figure.savefig(out.figure, dpi=120, bbox_inches="tight")
    plt.close(figure)
    print(line)
