# The attack of each run on its own model, and the cross-run (grey-box) evaluation.


rule attack:
    """CONSERVAttack on the run's targeted test events with the run's model."""
    input:
        script_path("attack"),
        lib("attack"),
        events="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/runs/run{run}/model.pt",
    output:
        adversaries="results/{dataset}/runs/run{run}/attack/adversaries.parquet",
        meta="results/{dataset}/runs/run{run}/attack/attack.json",
    log:
        "results/{dataset}/logs/attack_run{run}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(60, 1),
        gpu=cuda_gpus("attack"),
        request_gpus=cuda_gpus("attack"),
    params:
        attack=lambda w: ds(w)["attack"],
        seed=lambda w: run_seed(w, "attack"),
    script:
        "../../scripts/attack.py"


rule cross_run_fooling:
    """Adversaries of every run evaluated on every run's model; per-run metrics table."""
    input:
        script_path("cross_run_fooling"),
        lib("cross_run_fooling"),
        adversaries=lambda w: expand(
            "results/{{dataset}}/runs/run{run}/attack/adversaries.parquet",
            run=runs(w.dataset),
        ),
        attacks=lambda w: expand(
            "results/{{dataset}}/runs/run{run}/attack/attack.json", run=runs(w.dataset)
        ),
        models=lambda w: expand(
            "results/{{dataset}}/runs/run{run}/model.pt", run=runs(w.dataset)
        ),
    output:
        matrix="results/{dataset}/cross_run_fooling.csv",
        per_run="results/{dataset}/metrics_per_run.csv",
    log:
        "results/{dataset}/logs/cross_run_fooling.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(20, 0.5),
    script:
        "../../scripts/cross_run_fooling.py"


rule best_cut:
    """Exhaustive best single cut on the training split: defines control and signal regions."""
    input:
        script_path("best_cut"),
        lib("best_cut"),
        train="results/{dataset}/data/train.parquet",
        scaler="results/{dataset}/data/scaler.json",
    output:
        "results/{dataset}/restricted/cut.json",
    log:
        "results/{dataset}/logs/best_cut.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(20, 0.5),
    script:
        "../../scripts/best_cut.py"


rule restricted_attack:
    """The control-region attack of one run on its correctly classified test events."""
    input:
        script_path("restricted_attack"),
        lib("restricted_attack"),
        test="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/runs/run{run}/model.pt",
        cut="results/{dataset}/restricted/cut.json",
    output:
        adversaries="results/{dataset}/runs/run{run}/restricted/adversaries.parquet",
        meta="results/{dataset}/runs/run{run}/restricted/restricted.json",
    log:
        "results/{dataset}/logs/restricted_run{run}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(60, 1),
        gpu=cuda_gpus("attack"),
        request_gpus=cuda_gpus("attack"),
    params:
        attack=lambda w: ds(w)["attack"],
        seed=lambda w: run_seed(w, "restricted"),
    script:
        "../../scripts/restricted_attack.py"


rule restricted_metrics:
    """Per-run table of the restricted attack."""
    input:
        script_path("restricted_metrics"),
        lib("restricted_metrics"),
        metas=lambda w: expand(
            "results/{{dataset}}/runs/run{run}/restricted/restricted.json",
            run=runs(w.dataset),
        ),
    output:
        "results/{dataset}/restricted/metrics_per_run.csv",
    log:
        "results/{dataset}/logs/restricted_metrics.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../../scripts/restricted_metrics.py"
