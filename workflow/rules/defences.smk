# Defences (docs/method.md section 4): adversarial data augmentation (study 3).


rule augmentation_subset:
    """The reduced training set of the augmentation study, shared by all runs."""
    input:
        script_path("augmentation_subset"),
        lib("augmentation_subset"),
        train="results/{dataset}/data/train.parquet",
    output:
        "results/{dataset}/augmentation/train_subset.parquet",
    log:
        "results/{dataset}/logs/augmentation_subset.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(5, 0.1),
    params:
        n=lambda w: ds(w)["augmentation"]["train_events"],
        seed=lambda w: derived_seed(config["seed"], w.dataset, "augmentation_subset"),
    script:
        "../../scripts/augmentation_subset.py"


rule augmentation_base:
    """The undertrained base model of one run, on the reduced training set."""
    input:
        script_path("train_classifier"),
        lib("train_classifier"),
        train="results/{dataset}/augmentation/train_subset.parquet",
        val="results/{dataset}/data/val.parquet",
        scaler="results/{dataset}/data/scaler.json",
    output:
        model="results/{dataset}/augmentation/run{run}/base.pt",
        meta="results/{dataset}/augmentation/run{run}/base.json",
    log:
        "results/{dataset}/logs/augmentation_base_run{run}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(30, 1),
    params:
        training=lambda w: ds(w)["augmentation"]["training"],
        seed=lambda w: run_seed(w, "augmentation_init"),
        shuffle_seed=lambda w: derived_seed(
            config["seed"], w.dataset, "augmentation_shuffle"
        ),
    script:
        "../../scripts/train_classifier.py"


rule augmentation_attack:
    """The attack on the reduced training set with the run's base model."""
    input:
        script_path("attack"),
        lib("attack"),
        events="results/{dataset}/augmentation/train_subset.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/augmentation/run{run}/base.pt",
    output:
        adversaries="results/{dataset}/augmentation/run{run}/adversaries.parquet",
        meta="results/{dataset}/augmentation/run{run}/attack.json",
    log:
        "results/{dataset}/logs/augmentation_attack_run{run}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(60, 1),
        gpu=cuda_gpus("augmentation", "attack"),
        request_gpus=cuda_gpus("augmentation", "attack"),
    params:
        attack=lambda w: ds(w)["augmentation"]["attack"],
        seed=lambda w: run_seed(w, "augmentation_attack"),
    script:
        "../../scripts/attack.py"


rule augmentation_retrain:
    """Retraining from scratch (same seed) on the reduced set plus the fooled adversaries."""
    input:
        script_path("train_augmented"),
        lib("train_augmented"),
        train="results/{dataset}/augmentation/train_subset.parquet",
        adversaries="results/{dataset}/augmentation/run{run}/adversaries.parquet",
        val="results/{dataset}/data/val.parquet",
        scaler="results/{dataset}/data/scaler.json",
    output:
        model="results/{dataset}/augmentation/run{run}/augmented.pt",
        meta="results/{dataset}/augmentation/run{run}/augmented.json",
    log:
        "results/{dataset}/logs/augmentation_retrain_run{run}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(30, 1),
    params:
        training=lambda w: ds(w)["augmentation"]["training"],
        seed=lambda w: run_seed(w, "augmentation_init"),
        shuffle_seed=lambda w: derived_seed(
            config["seed"], w.dataset, "augmentation_shuffle"
        ),
    script:
        "../../scripts/train_augmented.py"


rule augmentation_metrics:
    """Clean test AUROC of the base and the augmented model of every run."""
    input:
        script_path("augmentation_metrics"),
        lib("augmentation_metrics"),
        test="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
        base=lambda w: expand(
            "results/{{dataset}}/augmentation/run{run}/base.pt", run=runs(w.dataset)
        ),
        augmented=lambda w: expand(
            "results/{{dataset}}/augmentation/run{run}/augmented.pt",
            run=runs(w.dataset),
        ),
        attacks=lambda w: expand(
            "results/{{dataset}}/augmentation/run{run}/attack.json",
            run=runs(w.dataset),
        ),
    output:
        "results/{dataset}/augmentation/metrics_per_run.csv",
    log:
        "results/{dataset}/logs/augmentation_metrics.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(10, 0.5),
    script:
        "../../scripts/augmentation_metrics.py"


rule plot_augmentation:
    """Clean test AUROC, base vs augmented, per run and the paired difference (figures 10, 30)."""
    input:
        script_path("plot_augmentation"),
        lib("plot_augmentation"),
        per_run="results/{dataset}/augmentation/metrics_per_run.csv",
    output:
        figure("augmentation_auroc", "augmentation"),
    log:
        "results/{dataset}/logs/plot_augmentation.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        numbers=report_numbers,
    script:
        "../../scripts/plot_augmentation.py"
