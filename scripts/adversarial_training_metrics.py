"""Rule adversarial_training_metrics: fooling ratios of every model on every run's test
adversaries, per model and iteration, and per run (base, mean over iterations, best iteration)."""

import pandas as pd

from conservattack.studies.adversarial_training import iterations_table, per_model_table, summarise_runs
from conservattack.data.io import read_json
from conservattack.pipeline.runlog import logged

with logged(snakemake):
    inp, out = snakemake.input, snakemake.output
    evaluation = pd.concat([pd.read_csv(f) for f in inp.evaluations], ignore_index=True)
    evaluation.to_csv(out.fooling, index=False)
    attacks = {(m["run"], m["iteration"]): m for m in map(read_json, inp.attacks)}
    trained = {(m["run"], m["iteration"]): m for m in map(read_json, inp.models)}
    models = per_model_table(evaluation)
    iterations_table(models, attacks, trained).to_csv(out.iterations, index=False, float_format="%.6g")
    per_run = summarise_runs(models)
    per_run.to_csv(out.per_run, index=False)
    print(per_run.to_string())
