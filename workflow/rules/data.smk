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
    log:
        "results/{dataset}/logs/prepare.log",
    wildcard_constraints:
        dataset="donut",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        generate=lambda w: ds(w)["generate"],
        split=lambda w: ds(w)["split"],
        seed=lambda w: derived_seed(config["seed"], w.dataset, "data"),
    script:
        "../../scripts/prepare_donut.py"


rule download_higgs:
    """Download CERN Open Data record 328 with retries and resume; refuse an unverified file."""

    # ancient: the output is fixed by its checksum, so an edited downloader must not re-run the
    # rule (Snakemake would delete the verified data first and re-run the study after it)
    input:
        ancient(script_path("download_higgs")),
        ancient(lib("download_higgs")),
    output:
        config["higgs"]["download"]["dest"],
    log:
        "results/higgs/logs/download.log",
    retries: 0
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=60,
    params:
        download=tracked(config["higgs"]["download"], "retries", "timeout"),
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
    log:
        "results/higgs/logs/prepare.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(4000, 10),
        runtime=by_input_size(20, 0.5),
    params:
        missing_policy=config["higgs"]["missing_policy"],
        split=config["higgs"]["split"],
        seed=derived_seed(config["seed"], "higgs", "data"),
    script:
        "../../scripts/prepare_higgs.py"
