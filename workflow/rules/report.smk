# Figures and the summary table of each study.


rule plot_point_clouds:
    """Donut point clouds of run 0 (paper figures 17-20): clean, adversarial, fooling events."""
    input:
        script_path("plot_point_clouds"),
        lib("plot_point_clouds"),
        adversaries="results/{dataset}/runs/run0/attack/adversaries.parquet",
        test="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
    output:
        figure("point_clouds", "donut"),
    log:
        "results/{dataset}/logs/plot_point_clouds.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        numbers=report_numbers,
        seed=lambda w: derived_seed(config["seed"], w.dataset, "plot_point_clouds"),
    script:
        "../../scripts/plot_point_clouds.py"


rule plot_attack_run:
    """Marginals (min/median/max JSD features) and correlation matrices of run 0, physical units."""
    input:
        script_path("plot_attack_run"),
        lib("plot_attack_run"),
        adversaries="results/{dataset}/runs/run0/attack/adversaries.parquet",
        attack="results/{dataset}/runs/run0/attack/attack.json",
        test="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
    output:
        figure("marginals", "attack"),
        figure("correlation_matrices", "attack"),
    log:
        "results/{dataset}/logs/plot_attack_run.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        numbers=report_numbers,
        dataset=lambda w: w.dataset,
        units=declared_units,
    script:
        "../../scripts/plot_attack_run.py"


rule plot_runs:
    """Per-run metrics, the cross-run fooling matrix and the fooling ratio per iteration."""
    input:
        script_path("plot_runs"),
        lib("plot_runs"),
        per_run="results/{dataset}/metrics_per_run.csv",
        matrix="results/{dataset}/cross_run_fooling.csv",
        attacks=lambda w: expand(
            "results/{{dataset}}/runs/run{run}/attack/attack.json", run=runs(w.dataset)
        ),
    output:
        figure("metrics_per_run", "attack"),
        figure("cross_run_fooling", "attack"),
        figure("fooling_vs_iteration", "attack"),
    log:
        "results/{dataset}/logs/plot_runs.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        numbers=report_numbers,
    script:
        "../../scripts/plot_runs.py"


rule summary:
    """Our numbers beside the paper's (docs/method.md section 5)."""
    input:
        script_path("summary"),
        lib("summary"),
        per_run="results/{dataset}/metrics_per_run.csv",
        matrix="results/{dataset}/cross_run_fooling.csv",
        restricted=study_inputs(
            restricted_enabled, "results/{dataset}/restricted/metrics_per_run.csv"
        ),
        detector=study_inputs(
            detector_enabled, "results/{dataset}/detector/metrics_per_run.csv"
        ),
        repeated=study_inputs(
            detector_enabled,
            "results/{dataset}/detector/repeated_misclassification.csv",
        ),
        acceptance=study_inputs(
            detector_enabled, "results/{dataset}/detector/acceptance.csv"
        ),
        real_vs_sim=study_inputs(
            detector_enabled, "results/{dataset}/detector/real_vs_simulated.csv"
        ),
        augmentation=study_inputs(
            augmentation_enabled, "results/{dataset}/augmentation/metrics_per_run.csv"
        ),
        adversarial_training=study_inputs(
            adversarial_training_enabled,
            "results/{dataset}/adversarial_training/metrics_per_run.csv",
        ),
        disco=study_inputs(disco_enabled, "results/{dataset}/disco/metrics_per_run.csv"),
        rule_comparison=study_inputs(
            rule_comparison_enabled, "results/{dataset}/rule_comparison.csv"
        ),
    output:
        report(
            "results/{dataset}/summary.csv",
            caption="../report/summary.rst",
            category=STUDIES["summary"],
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "table": "summary"},
        ),
    log:
        "results/{dataset}/logs/summary.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/summary.py"


rule plot_restricted:
    """Restricted attack per run: fooling ratio on CR, SR and all (paper figure 6); CR JSD and
    FN (figures 7-8)."""
    input:
        script_path("plot_restricted"),
        lib("plot_restricted"),
        per_run="results/{dataset}/restricted/metrics_per_run.csv",
    output:
        figure("restricted_fooling", "restricted"),
        figure("restricted_jsd_fn", "restricted"),
    log:
        "results/{dataset}/logs/plot_restricted.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        numbers=report_numbers,
    script:
        "../../scripts/plot_restricted.py"


rule record_config:
    """The configuration the dataset's results are made with (checked: every default filled in),
    which `snakemake --report` compares with its own, and the attack parameters as a table for
    the report. Re-runs when the dataset's configuration changes (params)."""
    input:
        script_path("record_config"),
        lib("record_config"),
    output:
        config="results/{dataset}/config.yaml",
        parameters="results/{dataset}/attack_parameters.csv",
    log:
        "results/{dataset}/logs/record_config.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        config=lambda wildcards: recorded_config(config, wildcards.dataset),
        run=RUN_ARGUMENTS,
    script:
        "../../scripts/record_config.py"
