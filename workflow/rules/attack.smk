# The attack of each run on its own model, and the cross-run (grey-box) evaluation.


rule attack:
    """CONSERVAttack on the run's targeted test events with the run's model."""
    input:
        script_path("attack"),
        lib("attack"),
        test="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/runs/run{run}/model.pt",
    output:
        adversaries="results/{dataset}/runs/run{run}/attack/adversaries.parquet",
        meta="results/{dataset}/runs/run{run}/attack/attack.json",
    params:
        attack=lambda w: ds(w)["attack"],
        seed=lambda w: run_seed(w, "attack"),
    log:
        "results/{dataset}/logs/attack_run{run}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    script:
        "../../scripts/attack.py"


rule cross_run_fooling:
    """Adversaries of every run evaluated on every run's model; per-run metrics table."""
    input:
        script_path("cross_run_fooling"),
        lib("cross_run_fooling"),
        adversaries=lambda w: expand(
            "results/{{dataset}}/runs/run{run}/attack/adversaries.parquet", run=runs(w.dataset)
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
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    script:
        "../../scripts/cross_run_fooling.py"
