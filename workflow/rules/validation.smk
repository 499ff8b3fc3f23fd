# Validation of every attack against an independent sample (docs/method.md section 9): per attack
# folder (the attack study's, the rule comparison's reference-rule and calibrated attacks), the clean and the
# adversarial set against the validation split's events of the attacked classes; per dataset, the
# table of all of them (read by the verdict). Helpers: common.smk.


rule validate_attack:
    """One attack's clean and adversarial sets against the validation split's events of the
    attacked classes: chi-square and KS per feature, bootstrap pulls per correlation."""
    input:
        script_path("validate_attack"),
        lib("validate_attack"),
        adversaries="results/{dataset}/runs/run{run}/{folder}/adversaries.parquet",
        attack="results/{dataset}/runs/run{run}/{folder}/attack.json",
        independent="results/{dataset}/data/val.parquet",
        scaler="results/{dataset}/data/scaler.json",
        model="results/{dataset}/runs/run{run}/model.pt",
    output:
        table="results/{dataset}/runs/run{run}/{folder}/validation.csv",
        summary="results/{dataset}/runs/run{run}/{folder}/validation.json",
        figure=report(
            "results/{dataset}/runs/run{run}/{folder}/validation.png",
            caption="../report/validation.rst",
            category=STUDIES["attack"],
            subcategory="{dataset}",
            labels={
                "dataset": "{dataset}",
                "figure": "validation",
                "run": "{run}",
                "attack": "{folder}",
            },
        ),
    log:
        "results/{dataset}/logs/validate_attack_run{run}_{folder}.log",
    wildcard_constraints:
        folder=VALIDATED_FOLDERS,
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(1000, 20),
        runtime=by_input_size(10, 0.5),
    params:
        validation=lambda w: ds(w)["validation"],
        num_bins_key=lambda w: f"{w.dataset}.attack.params.num_bins",
        # one seed per run: every attack of a run shares the clean and independent bootstraps
        seed=lambda w: derived_seed(config["seed"], w.dataset, "validation", int(w.run)),
    script:
        "../../scripts/validate_attack.py"


rule validation_summary:
    """Every validated attack of the dataset, one row each: the fractions failing per test, clean
    beside adversarial."""
    input:
        script_path("validation_summary"),
        lib("validation_summary"),
        summaries=lambda w: validation_files(w.dataset, "validation.json"),
    output:
        report(
            "results/{dataset}/validation.csv",
            caption="../report/validation_table.rst",
            category=STUDIES["attack"],
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "table": "validation"},
        ),
    log:
        "results/{dataset}/logs/validation_summary.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        attacks=lambda w: [
            {"run": int(r), "attack": folder}
            for r, folder in validated_attacks(w.dataset)
        ],
    script:
        "../../scripts/validation_summary.py"
