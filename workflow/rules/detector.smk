# The adversarial-detector study (docs/method.md, studies 5-7) and the analyst verdict.


rule detector_attack:
    """Adversaries of one split for the detector, with the detector's attack parameters."""
    input:
        script_path("attack"),
        lib("attack"),
        events="results/{dataset}/data/{split}.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/runs/run{run}/model.pt",
    output:
        adversaries="results/{dataset}/runs/run{run}/detector/adversaries_{split}.parquet",
        meta="results/{dataset}/runs/run{run}/detector/attack_{split}.json",
    log:
        "results/{dataset}/logs/detector_attack_{split}_run{run}.log",
    wildcard_constraints:
        split="train|val|test",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(60, 1),
        gpu=cuda_gpus("detector", "attack"),
        request_gpus=cuda_gpus("detector", "attack"),
    params:
        attack=lambda w: ds(w)["detector"]["attack"],
        seed=lambda w: derived_seed(
            config["seed"], w.dataset, "detector_attack", w.split, int(w.run)
        ),
    script:
        "../../scripts/attack.py"


rule train_detector:
    """The run's detector: all clean events of the split, both classes (label 1), vs the fooled
    adversaries (label 0), class-balanced."""
    input:
        script_path("train_detector"),
        lib("train_detector"),
        clean_train="results/{dataset}/data/train.parquet",
        clean_val="results/{dataset}/data/val.parquet",
        adv_train="results/{dataset}/runs/run{run}/detector/adversaries_train.parquet",
        adv_val="results/{dataset}/runs/run{run}/detector/adversaries_val.parquet",
        scaler="results/{dataset}/data/scaler.json",
    output:
        model="results/{dataset}/runs/run{run}/detector/detector.pt",
        meta="results/{dataset}/runs/run{run}/detector/detector.json",
    log:
        "results/{dataset}/logs/train_detector_run{run}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(60, 1),
    params:
        training=lambda w: ds(w)["detector"]["training"],
        seed=lambda w: run_seed(w, "detector_init"),
        shuffle_seed=lambda w: derived_seed(
            config["seed"], w.dataset, "detector_shuffle"
        ),
    script:
        "../../scripts/train_detector.py"


rule prepare_real_data:
    """The configured real-data set, processed like the simulation: its missing-value policy
    (Higgs) and its training-split scaler."""
    input:
        script_path("prepare_real_data"),
        lib("prepare_real_data"),
        real=lambda w: ds(w)["real_data"],
        scaler="results/{dataset}/data/scaler.json",
        meta="results/{dataset}/data/data.json",  # the simulation's missing-value policy (Higgs)
    output:
        "results/{dataset}/data/real.parquet",
    log:
        "results/{dataset}/logs/prepare_real_data.log",
    # first once its inputs exist: a bad value in the real data (NaN, a missing-value marker)
    # stops the run before hours of attacks rather than after them
    priority: 50
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(10, 0.5),
    params:
        # ROOT real data (the analyst toolkit): the tree to read
        tree=lambda w: ds(w).get("real_tree") or ds(w).get("data", {}).get("tree"),
        # the analyst toolkit's missing-value markers, refused in real data as in the simulation
        missing_values=lambda w: ds(w).get("data", {}).get("missing_values", []),
    script:
        "../../scripts/prepare_real_data.py"


rule evaluate_detectors:
    """Initial and corrected fooling ratios of every run's test adversaries on every run's
    classifier and detector; efficiencies; repeated misclassification; acceptance curve.
    """
    input:
        script_path("evaluate_detectors"),
        lib("evaluate_detectors"),
        test="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
        adversaries=lambda w: expand(
            "results/{{dataset}}/runs/run{run}/detector/adversaries_test.parquet",
            run=runs(w.dataset),
        ),
        models=lambda w: expand(
            "results/{{dataset}}/runs/run{run}/model.pt", run=runs(w.dataset)
        ),
        detectors=lambda w: expand(
            "results/{{dataset}}/runs/run{run}/detector/detector.pt",
            run=runs(w.dataset),
        ),
        real=lambda w: (
            [f"results/{w.dataset}/data/real.parquet"] if ds(w)["real_data"] else []
        ),
    output:
        per_run="results/{dataset}/detector/metrics_per_run.csv",
        real_vs_sim="results/{dataset}/detector/real_vs_simulated.csv",
        initial="results/{dataset}/detector/initial_fooling.csv",
        corrected="results/{dataset}/detector/corrected_fooling.csv",
        repeated="results/{dataset}/detector/repeated_misclassification.csv",
        acceptance="results/{dataset}/detector/acceptance.csv",
        meta="results/{dataset}/detector/detector.json",
    log:
        "results/{dataset}/logs/evaluate_detectors.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(20, 0.5),
    params:
        threshold=lambda w: ds(w)["detector"]["threshold"],
        significance=lambda w: ds(w)["detector"]["significance"],
    script:
        "../../scripts/evaluate_detectors.py"


rule plot_detector:
    """Detector figures: per run (paper figure 14), cross-run corrected fooling ratio (32),
    repeated misclassification (15), clean acceptance versus threshold (16)."""
    input:
        script_path("plot_detector"),
        lib("plot_detector"),
        per_run="results/{dataset}/detector/metrics_per_run.csv",
        corrected="results/{dataset}/detector/corrected_fooling.csv",
        repeated="results/{dataset}/detector/repeated_misclassification.csv",
        acceptance="results/{dataset}/detector/acceptance.csv",
    output:
        figure("detector_per_run", "detector"),
        figure("detector_cross_run", "detector"),
        figure("repeated_misclassification", "detector"),
        figure("clean_acceptance", "detector"),
    log:
        "results/{dataset}/logs/plot_detector.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        numbers=report_numbers,
    script:
        "../../scripts/plot_detector.py"


rule plot_detector_point_clouds:
    """Donut, run 0: which fooling adversaries pass the detector (paper figure 21)."""
    input:
        script_path("plot_detector_point_clouds"),
        lib("plot_detector_point_clouds"),
        adversaries="results/{dataset}/runs/run0/detector/adversaries_test.parquet",
        detector="results/{dataset}/runs/run0/detector/detector.pt",
        scaler="results/{dataset}/data/scaler.json",
    output:
        figure("detector_point_clouds", "donut"),
    log:
        "results/{dataset}/logs/plot_detector_point_clouds.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        numbers=report_numbers,
        threshold=lambda w: ds(w)["detector"]["threshold"],
        seed=lambda w: derived_seed(
            config["seed"], w.dataset, "plot_detector_point_clouds"
        ),
    script:
        "../../scripts/plot_detector_point_clouds.py"


rule verdict:
    """The analyst verdict: corrected fooling ratio against the systematics budget."""
    input:
        script_path("verdict"),
        lib("verdict"),
        per_run="results/{dataset}/detector/metrics_per_run.csv",
        meta="results/{dataset}/detector/detector.json",
        real_vs_sim="results/{dataset}/detector/real_vs_simulated.csv",
        validation=study_inputs(validation_enabled, "results/{dataset}/validation.csv"),
    output:
        report(
            "results/{dataset}/verdict.md",
            caption="../report/verdict.rst",
            category=STUDIES["summary"],
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "table": "verdict"},
        ),
    log:
        "results/{dataset}/logs/verdict.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        numbers=report_numbers,
        budget=lambda w: ds(w)["verdict"]["systematics_budget"],
        dataset=lambda w: w.dataset,
        validation_level=lambda w: ds(w)["validation"]["level"],
    script:
        "../../scripts/verdict.py"
