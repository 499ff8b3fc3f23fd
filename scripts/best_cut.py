"""Rule best_cut: the exhaustive best single cut on the training split."""

from conservattack.data.io import read_parquet, write_json
from conservattack.data.preprocessing import MinMaxScaler
from conservattack.pipeline.provenance import provenance
from conservattack.studies.restricted import best_single_cut
from conservattack.pipeline.runlog import logged
from conservattack.data.tables import features_and_labels

with logged(snakemake):
    scaler = MinMaxScaler.load(snakemake.input.scaler)
    features = list(scaler.features)
    X, y = features_and_labels(read_parquet(snakemake.input.train), features)
    cut = best_single_cut(X, y)
    physical = scaler.inverse([[cut.threshold if j == cut.feature else 0.0 for j in range(len(features))]])[0]
    result = {"feature": features[cut.feature], "feature_index": cut.feature, "threshold_scaled": cut.threshold,
              "threshold": float(physical[cut.feature]), "signal_side": cut.side, "accuracy": cut.accuracy,
              "control_region": "below" if cut.side == "above" else "above", "n_train": len(y)}
    print(result)
    write_json({**result, **provenance({"features": features})}, snakemake.output[0])
