# Study 9 (docs/method.md section 4): DisCo-constrained attack with limited data (2,500 training / 1,000
# test adversaries by default), the limited-data Pearson comparison, their detectors, and
# detector AUROC versus training size (paper figures 22-25).


rule disco_subset:
    """The fixed stratified subset of the training or test split that study 9 attacks."""
    input:
        script_path("augmentation_subset"),
        lib("augmentation_subset"),
        train="results/{dataset}/data/{split}.parquet",
    output:
        "results/{dataset}/disco/{split}_subset.parquet",
    log:
        "results/{dataset}/logs/disco_subset_{split}.log",
    wildcard_constraints:
        split="train|test",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(5, 0.1),
    params:
        n=lambda w: disco(w)[f"{w.split}_events"],
        seed=lambda w: derived_seed(config["seed"], w.dataset, "disco_subset", w.split),
    script:
        "../../scripts/augmentation_subset.py"


rule disco_attack:
    """One run's attack of a study-9 subset: method disco (distance correlation) or pearson;
    role attack (test subset, DisCo attack parameters), detector_train or detector_test.
    """
    input:
        script_path("attack"),
        lib("attack"),
        events=lambda w: f"results/{w.dataset}/disco/{DISCO_ROLES[w.role][0]}_subset.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/runs/run{run}/model.pt",
    output:
        adversaries="results/{dataset}/disco/{method}/run{run}/adversaries_{role}.parquet",
        meta="results/{dataset}/disco/{method}/run{run}/attack_{role}.json",
    log:
        "results/{dataset}/logs/disco_attack_{method}_{role}_run{run}.log",
    wildcard_constraints:
        method="disco|pearson",
        role="attack|detector_train|detector_test",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(60, 30),
    params:
        attack=disco_attack_config,
        seed=lambda w: derived_seed(
            config["seed"], w.dataset, "disco_attack", w.method, w.role, int(w.run)
        ),
    script:
        "../../scripts/attack.py"


rule disco_detector:
    """One run's detectors of one method on nested fractions of the training subset, evaluated
    on the test subset (AUROC; the numbers at a threshold are disco_metrics')."""
    input:
        script_path("disco_detector"),
        lib("disco_detector"),
        clean_train="results/{dataset}/disco/train_subset.parquet",
        adv_train="results/{dataset}/disco/{method}/run{run}/adversaries_detector_train.parquet",
        clean_test="results/{dataset}/disco/test_subset.parquet",
        adv_test="results/{dataset}/disco/{method}/run{run}/adversaries_detector_test.parquet",
        scaler="results/{dataset}/data/scaler.json",
    output:
        model="results/{dataset}/disco/{method}/run{run}/detector.pt",
        meta="results/{dataset}/disco/{method}/run{run}/detector_metrics.json",
        sizes="results/{dataset}/disco/{method}/run{run}/auroc_vs_size.csv",
    log:
        "results/{dataset}/logs/disco_detector_{method}_run{run}.log",
    wildcard_constraints:
        method="disco|pearson",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(30, 2),
    params:
        training=lambda w: disco(w)["training"],
        fractions=lambda w: disco(w)["training_fractions"],
        validation_fraction=lambda w: disco(w)["validation_fraction"],
        seed=lambda w: run_seed(w, "disco_detector_init"),
        shuffle_seed=lambda w: derived_seed(
            config["seed"], w.dataset, "disco_detector_shuffle"
        ),
    script:
        "../../scripts/disco_detector.py"


rule disco_metrics:
    """Study 9 per method and run (fooling ratios, JSD, relative FN of both matrices, detector
    AUROC; corrected fooling ratio and efficiencies at disco.threshold) and detector AUROC versus
    training size."""
    input:
        script_path("disco_metrics"),
        lib("disco_metrics"),
        scaler="results/{dataset}/data/scaler.json",
        attacks=disco_inputs(
            "results/{dataset}/disco/{method}/run{run}/attack_{role}.json"
        ),
        adversaries=disco_inputs(
            "results/{dataset}/disco/{method}/run{run}/adversaries_{role}.parquet"
        ),
        detectors=disco_inputs(
            "results/{dataset}/disco/{method}/run{run}/detector_metrics.json"
        ),
        sizes=disco_inputs(
            "results/{dataset}/disco/{method}/run{run}/auroc_vs_size.csv"
        ),
        models=disco_inputs("results/{dataset}/disco/{method}/run{run}/detector.pt"),
        adv_test=disco_inputs(
            "results/{dataset}/disco/{method}/run{run}/adversaries_detector_test.parquet"
        ),
        clean_test="results/{dataset}/disco/test_subset.parquet",
    output:
        per_run="results/{dataset}/disco/metrics_per_run.csv",
        sizes="results/{dataset}/disco/auroc_vs_size.csv",
        summary="results/{dataset}/disco/summary.json",
    log:
        "results/{dataset}/logs/disco_metrics.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(10, 1),
    params:
        runs=lambda w: disco_keys(w.dataset),
        threshold=lambda w: disco(w)["threshold"],
    script:
        "../../scripts/disco_metrics.py"


rule plot_disco:
    """Study 9 figures: dCor matrices (22) and marginals (23) of DisCo run 0, detector AUROC
    versus training size (24), DisCo versus limited-data Pearson (25)."""
    input:
        script_path("plot_disco"),
        lib("plot_disco"),
        scaler="results/{dataset}/data/scaler.json",
        adversaries="results/{dataset}/disco/disco/run0/adversaries_attack.parquet",
        attack="results/{dataset}/disco/disco/run0/attack_attack.json",
        per_run="results/{dataset}/disco/metrics_per_run.csv",
        sizes="results/{dataset}/disco/auroc_vs_size.csv",
        full_size=study_inputs(
            detector_enabled, "results/{dataset}/detector/metrics_per_run.csv"
        ),
    output:
        figure("disco_matrices", "disco"),
        figure("disco_marginals", "disco"),
        figure("disco_auroc_vs_size", "disco"),
        figure("disco_vs_pearson", "disco"),
    log:
        "results/{dataset}/logs/plot_disco.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        numbers=report_numbers,
        dataset=lambda w: w.dataset,
        units=declared_units,
    script:
        "../../scripts/plot_disco.py"
