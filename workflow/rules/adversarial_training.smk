# Cumulative adversarial training with grey-box evaluation (docs/method.md, study 4). The base
# model of run r is its classifier (runs/run<r>/model.pt). Iteration k of run r attacks the
# training set with that initial model (own job: iterations of all runs run in parallel) and
# retrains from scratch on the training set plus the fooled adversaries of iterations 1..k.


wildcard_constraints:
    iteration=r"[1-9]\d*",


rule adversarial_training_test_attack:
    """Test adversaries of one run on its initial model, with the study's test parameters."""
    input:
        script_path("attack"),
        lib("attack"),
        events="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/runs/run{run}/model.pt",
    output:
        adversaries="results/{dataset}/adversarial_training/run{run}/test_adversaries.parquet",
        meta="results/{dataset}/adversarial_training/run{run}/test_attack.json",
    log:
        "results/{dataset}/logs/adversarial_training_test_attack_run{run}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(60, 1),
        gpu=cuda_gpus("adversarial_training", "test_attack"),
        request_gpus=cuda_gpus("adversarial_training", "test_attack"),
    params:
        attack=lambda w: advtrain(w)["test_attack"],
        seed=lambda w: run_seed(w, "adversarial_training_test_attack"),
    script:
        "../../scripts/attack.py"


rule adversarial_training_attack:
    """Training adversaries of one run and iteration, from the run's initial model, with attack
    parameters drawn from the configured ranges (recorded in the iteration's attack.json).
    """
    input:
        script_path("adversarial_training_attack"),
        lib("adversarial_training_attack"),
        train="results/{dataset}/data/train.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/runs/run{run}/model.pt",
    output:
        adversaries="results/{dataset}/adversarial_training/run{run}/iter{iteration}/adversaries.parquet",
        meta="results/{dataset}/adversarial_training/run{run}/iter{iteration}/attack.json",
    log:
        "results/{dataset}/logs/adversarial_training_attack_run{run}_iter{iteration}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(4000, 10),
        runtime=by_input_size(120, 1),
        gpu=cuda_gpus("adversarial_training", "train_attack"),
        request_gpus=cuda_gpus("adversarial_training", "train_attack"),
    params:
        attack=lambda w: advtrain(w)["train_attack"],
        attack_events=lambda w: advtrain(w)["attack_events"],
        draw_seed=lambda w: advtrain_seed(w, "draw"),
        subset_seed=lambda w: advtrain_seed(w, "subset"),
        attack_seed=lambda w: advtrain_seed(w, "attack"),
    script:
        "../../scripts/adversarial_training_attack.py"


rule adversarial_training_retrain:
    """The model of iteration k: from scratch, with the base model's seeds and training
    configuration, on the training set plus the fooled adversaries of iterations 1..k.
    """
    input:
        script_path("adversarial_training_retrain"),
        lib("adversarial_training_retrain"),
        train="results/{dataset}/data/train.parquet",
        val="results/{dataset}/data/val.parquet",
        scaler="results/{dataset}/data/scaler.json",
        adversaries=lambda w: expand(
            "results/{{dataset}}/adversarial_training/run{{run}}/iter{k}/adversaries.parquet",
            k=range(1, int(w.iteration) + 1),
        ),
    output:
        model="results/{dataset}/adversarial_training/run{run}/iter{iteration}/model.pt",
        meta="results/{dataset}/adversarial_training/run{run}/iter{iteration}/model.json",
    log:
        "results/{dataset}/logs/adversarial_training_retrain_run{run}_iter{iteration}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(4000, 10),
        runtime=by_input_size(120, 1),
    params:
        training=lambda w: ds(w)["training"],
        seed=lambda w: run_seed(w, "init"),
        shuffle_seed=lambda w: derived_seed(config["seed"], w.dataset, "shuffle"),
    script:
        "../../scripts/adversarial_training_retrain.py"


rule adversarial_training_evaluate:
    """Every model of one run (base, then iterations 1..K) on every run's test adversaries and on
    the clean test split."""
    input:
        script_path("adversarial_training_evaluate"),
        lib("adversarial_training_evaluate"),
        test="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
        models=lambda w: [f"results/{w.dataset}/runs/run{w.run}/model.pt"]
        + expand(
            "results/{{dataset}}/adversarial_training/run{{run}}/iter{k}/model.pt",
            k=advtrain_iterations(w.dataset),
        ),
        adversaries=lambda w: [
            advtrain_test_adversaries(w.dataset, s) for s in runs(w.dataset)
        ],
    output:
        "results/{dataset}/adversarial_training/run{run}/evaluation.csv",
    log:
        "results/{dataset}/logs/adversarial_training_evaluate_run{run}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(20, 0.5),
    script:
        "../../scripts/adversarial_training_evaluate.py"


rule adversarial_training_metrics:
    """Fooling ratios and clean AUROC per model and iteration; per run: base model, mean over
    iterations, best iteration (white-box and grey-box apart)."""
    input:
        script_path("adversarial_training_metrics"),
        lib("adversarial_training_metrics"),
        evaluations=lambda w: expand(
            "results/{{dataset}}/adversarial_training/run{run}/evaluation.csv",
            run=runs(w.dataset),
        ),
        attacks=lambda w: expand(
            "results/{{dataset}}/adversarial_training/run{run}/iter{k}/attack.json",
            run=runs(w.dataset),
            k=advtrain_iterations(w.dataset),
        ),
        models=lambda w: expand(
            "results/{{dataset}}/adversarial_training/run{run}/iter{k}/model.json",
            run=runs(w.dataset),
            k=advtrain_iterations(w.dataset),
        ),
    output:
        fooling="results/{dataset}/adversarial_training/fooling.csv",
        iterations="results/{dataset}/adversarial_training/iterations.csv",
        per_run="results/{dataset}/adversarial_training/metrics_per_run.csv",
    log:
        "results/{dataset}/logs/adversarial_training_metrics.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/adversarial_training_metrics.py"


rule plot_adversarial_training:
    """Base model, mean over iterations and best iteration; clean AUROC per iteration (figures
    12, 31)."""
    input:
        script_path("plot_adversarial_training"),
        lib("plot_adversarial_training"),
        per_run="results/{dataset}/adversarial_training/metrics_per_run.csv",
        iterations="results/{dataset}/adversarial_training/iterations.csv",
    output:
        figure("adversarial_training", "adversarial_training"),
    log:
        "results/{dataset}/logs/plot_adversarial_training.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        numbers=report_numbers,
    script:
        "../../scripts/plot_adversarial_training.py"
