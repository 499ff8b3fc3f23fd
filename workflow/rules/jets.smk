# TT vs WW jets (docs/method.md section 3): CERN Open Data downloads, jets read by configuration, TopoDNN
# inputs, the fixed split and scaling, and the SingleMu real data processed identically.

TTWW = config["ttww"]
TTWW_DOWNLOADS = TTWW["opendata"]["dest"]


rule download_ttww:
    """The first n_files files of a sample's CERN Open Data records, through their file indexes;
    resumable, verified where the record publishes sizes and checksums."""

    # ancient: the output is fixed by its checksum, so an edited downloader must not re-run the
    # rule (Snakemake would delete the verified data first and re-run the study after it)
    input:
        ancient(script_path("download_ttww")),
        ancient(lib("download_ttww")),
    output:
        f"{TTWW_DOWNLOADS}/{{sample}}/manifest.json",
    log:
        "results/ttww/logs/download_{sample}.log",
    wildcard_constraints:
        sample="tt|ww|real",
    retries: 0
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=600,
    params:
        records=lambda w: ttww_sample(w.sample)["records"],
        opendata=tracked(TTWW["opendata"], "retries", "timeout"),
        dest=lambda w: f"{TTWW_DOWNLOADS}/{w.sample}",
        local_option=lambda w: f"{ttww_config_key(w.sample)}.local_files",
    script:
        "../../scripts/download_ttww.py"


rule prepare_ttww:
    """Read the TT (label 1) and WW (label 0) jets, TopoDNN inputs, one stratified split, min-max
    scaling fitted on the training split."""
    input:
        script_path("prepare_ttww"),
        lib("prepare_ttww"),
        tt=ttww_inputs("tt"),
        ww=ttww_inputs("ww"),
    output:
        train="results/ttww/data/train.parquet",
        val="results/ttww/data/val.parquet",
        test="results/ttww/data/test.parquet",
        scaler="results/ttww/data/scaler.json",
        meta="results/ttww/data/data.json",
    log:
        "results/ttww/logs/prepare.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        reader=tracked(TTWW["reader"], "step_size"),
        constituents=TTWW["constituents"],
        max_jets={name: TTWW["samples"][name]["max_jets"] for name in ("tt", "ww")},
        split=TTWW["split"],
        seed=derived_seed(config["seed"], "ttww", "data"),
    script:
        "../../scripts/prepare_ttww.py"


rule prepare_ttww_real:
    """The real-data jets (SingleMu), read and preprocessed exactly like the simulation; physical
    units (the detector study scales them with the simulation's scaler)."""
    input:
        script_path("prepare_ttww_real"),
        lib("prepare_ttww_real"),
        real=ttww_inputs("real"),
    output:
        features="results/ttww/real/singlemu.parquet",
        meta="results/ttww/real/singlemu.json",
    log:
        "results/ttww/logs/prepare_real.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=120,
    params:
        reader=tracked(TTWW["reader"], "step_size"),
        constituents=TTWW["constituents"],
        max_jets=TTWW["real"]["max_jets"],
    script:
        "../../scripts/prepare_ttww_real.py"
