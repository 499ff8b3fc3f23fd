# Exact and reference rule side by side (docs/studies.md): each compared run's attack re-run under
# the reference rule (the authors' code, emulated), once per chunk count, and (calibrated.enabled)
# under the calibrated constraints; the table of all settings with the audit of what the chunks
# left unconstrained, and its figure. Helpers: common.smk.


rule reference_attack:
    """The run's attack (same model, targeted test events, parameters and seed) under the
    reference rule with ``chunks`` feature chunks."""
    input:
        script_path("attack"),
        lib("attack"),
        events="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/runs/run{run}/model.pt",
    output:
        adversaries="results/{dataset}/runs/run{run}/attack_reference/chunks{chunks}/adversaries.parquet",
        meta="results/{dataset}/runs/run{run}/attack_reference/chunks{chunks}/attack.json",
    log:
        "results/{dataset}/logs/reference_attack_run{run}_chunks{chunks}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(120, 5),
    params:
        attack=reference_attack_config,
        seed=lambda w: run_seed(w, "attack"),
    script:
        "../../scripts/attack.py"


rule calibrated_attack:
    """The run's attack (same model, targeted test events, grid, weights and seed) under the
    calibrated constraints: budgets from bootstrap resamples of the attacked set instead of the
    per-move limits."""
    input:
        script_path("attack"),
        lib("attack"),
        events="results/{dataset}/data/test.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/runs/run{run}/model.pt",
    output:
        adversaries="results/{dataset}/runs/run{run}/attack_calibrated/adversaries.parquet",
        meta="results/{dataset}/runs/run{run}/attack_calibrated/attack.json",
    log:
        "results/{dataset}/logs/calibrated_attack_run{run}.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(120, 5),
    params:
        attack=calibrated_attack_config,
        seed=lambda w: run_seed(w, "attack"),
    script:
        "../../scripts/attack.py"


rule rule_comparison:
    """Both rules per compared run: fooling ratio, JSD and relative FN as the exact rule measures
    them, the reference rule's reported numbers and its chunk audit."""
    input:
        script_path("rule_comparison"),
        lib("rule_comparison"),
        attacks=rule_comparison_attacks("attack.json"),
        adversaries=rule_comparison_attacks("adversaries.parquet"),
    output:
        report(
            "results/{dataset}/rule_comparison.csv",
            caption="../report/rule_comparison_table.rst",
            category=STUDIES["attack"],
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "table": "rule_comparison"},
        ),
    log:
        "results/{dataset}/logs/rule_comparison.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(1000, 5),
        runtime=10,
    script:
        "../../scripts/rule_comparison.py"


rule plot_rule_comparison:
    """Fooling ratio, mean JSD and relative FN per rule and chunk count, per run, beside the
    paper's number."""
    input:
        script_path("plot_rule_comparison"),
        lib("plot_rule_comparison"),
        table="results/{dataset}/rule_comparison.csv",
    output:
        figure("rule_comparison", "attack"),
    log:
        "results/{dataset}/logs/plot_rule_comparison.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        numbers=report_numbers,
    script:
        "../../scripts/plot_rule_comparison.py"
