# The analyst toolkit (paper section 11, figure 26; docs/method.md, study 10): the `custom` dataset reads
# your own events (Parquet, CSV or ROOT) and, optionally, imports your model (torch.export or
# TorchScript) into every run's model slot; the generic rules then attack, train the detectors,
# compute the corrected fooling ratio and write the verdict.

if "custom" in DATASETS:
    check_custom_config(config["custom"])


rule prepare_custom:
    """Read and check the analyst's events, split once (stratified), min-max scale."""
    input:
        script_path("prepare_custom"),
        lib("prepare_custom"),
        events=config["custom"]["data"]["path"] or [],
    output:
        train="results/custom/data/train.parquet",
        val="results/custom/data/val.parquet",
        test="results/custom/data/test.parquet",
        scaler="results/custom/data/scaler.json",
        meta="results/custom/data/data.json",
    log:
        "results/custom/logs/prepare.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 20),
        runtime=by_input_size(10, 0.5),
    params:
        data=tracked(config["custom"]["data"], "units"),
        split=config["custom"]["split"],
        seed=derived_seed(config["seed"], "custom", "data"),
    script:
        "../../scripts/prepare_custom.py"


if config["custom"]["model"]["path"]:

    ruleorder: import_model > train_classifier

    rule import_model:
        """The analyst's model (torch.export or TorchScript), checked on the validation split and wrapped to take
        the scaled features, in the run's model slot (instead of training the paper's MLP).
        """
        input:
            script_path("import_model"),
            lib("import_model"),
            model=config["custom"]["model"]["path"],
            val="results/custom/data/val.parquet",
            scaler="results/custom/data/scaler.json",
        output:
            model="results/custom/runs/run{run}/model.pt",
            meta="results/custom/runs/run{run}/model.json",
        log:
            "results/custom/logs/import_model_run{run}.log",
        conda:
            "../../envs/conservattack.yaml"
        threads: 1
        resources:
            mem_mb=by_input_size(2000, 10),
            runtime=10,
        params:
            inputs=config["custom"]["model"]["inputs"],
            model_config=config["custom"]["model"],
        script:
            "../../scripts/import_model.py"
