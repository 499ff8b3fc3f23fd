# Data: generation or reading, the fixed split and the min-max scaling.


rule prepare_donut:
    """Generate the Donut toy, split it once (stratified) and min-max scale with the training split."""
    input:
        script_path("prepare_donut"),
        lib("prepare_donut"),
    output:
        train="results/{dataset}/data/train.parquet",
        val="results/{dataset}/data/val.parquet",
        test="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
        meta="results/{dataset}/data/data.json",
    wildcard_constraints:
        dataset="donut",
    params:
        generate=lambda w: ds(w)["generate"],
        split=lambda w: ds(w)["split"],
        seed=lambda w: derived_seed(config["seed"], w.dataset, "data"),
    log:
        "results/{dataset}/logs/prepare.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/prepare_donut.py"
