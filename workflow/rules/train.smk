# Training of the paper's MLP, one model per run (seed).


rule train_classifier:
    """Train the classifier of one run on the training split, early stopping on validation loss."""
    input:
        script_path("train_classifier"),
        lib("train_classifier"),
        train="results/{dataset}/data/train.parquet",
        val="results/{dataset}/data/val.parquet",
        scaler="results/{dataset}/data/scaler.json",
    output:
        model="results/{dataset}/runs/run{run}/model.pt",
        meta="results/{dataset}/runs/run{run}/model.json",
    log:
        "results/{dataset}/logs/train_run{run}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(60, 1),
    params:
        training=lambda w: ds(w)["training"],
        seed=lambda w: run_seed(w, "init"),
        # one mini-batch order for all runs: runs differ only in initialisation (docs/method.md section 4)
        shuffle_seed=lambda w: derived_seed(config["seed"], w.dataset, "shuffle"),
    script:
        "../../scripts/train_classifier.py"
