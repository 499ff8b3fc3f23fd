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


def higgs_csv_inputs():
    """The Higgs CSV files: the configured local copy, or the verified download."""
    cfg = config["higgs"]
    if cfg["local_files"]:
        try:
            return [_relative(p) for p in higgs_files(cfg["local_files"])]
        except (FileNotFoundError, ValueError) as exc:
            raise ValueError(f"config higgs.local_files: {exc}") from None
    return [cfg["download"]["dest"]]


rule download_higgs:
    """Download CERN Open Data record 328 with retries and resume; refuse an unverified file."""
    input:
        script_path("download_higgs"),
        lib("download_higgs"),
    output:
        config["higgs"]["download"]["dest"],
    params:
        download=config["higgs"]["download"],
    log:
        "results/higgs/logs/download.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
    retries: 0
    script:
        "../../scripts/download_higgs.py"


rule prepare_higgs:
    """Read and check the CSV, treat -999, split once (stratified) and min-max scale."""
    input:
        script_path("prepare_higgs"),
        lib("prepare_higgs"),
        csv=higgs_csv_inputs() if "higgs" in DATASETS else [],
    output:
        train="results/higgs/data/train.parquet",
        val="results/higgs/data/val.parquet",
        test="results/higgs/data/test.parquet",
        scaler="results/higgs/data/scaler.json",
        meta="results/higgs/data/data.json",
    params:
        missing_policy=config["higgs"]["missing_policy"],
        split=config["higgs"]["split"],
        seed=derived_seed(config["seed"], "higgs", "data"),
    log:
        "results/higgs/logs/prepare.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    script:
        "../../scripts/prepare_higgs.py"
