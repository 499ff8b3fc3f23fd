"""Rule import_model: the analyst's model (torch.export or TorchScript), checked and wrapped into a run's model slot."""

from conservattack.data.io import read_parquet, write_json
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.provenance import provenance
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import LABEL, features_and_labels
from conservattack.models.imported import import_model, save_imported

with logged(snakemake):
    scaler = MinMaxScaler.load(snakemake.input.scaler)
    X, y = features_and_labels(read_parquet(snakemake.input.val, [*scaler.features, LABEL]), scaler.features)
    model, checks = import_model(snakemake.input.model, scaler, X, y, snakemake.params.inputs)
    print(f"{snakemake.input.model}: validation split {checks}")
    save_imported(model, len(scaler.features), snakemake.output.model)
    write_json({"imported_from": snakemake.input.model, "inputs": snakemake.params.inputs,
                "features": list(scaler.features), "validation": checks,
                **provenance({"model": snakemake.params.model_config})}, snakemake.output.meta)
