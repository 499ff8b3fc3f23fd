# Size scaling (docs/method.md section 8.7): the attack at nested random subsets of one attacked
# set, for the exact rule and the reference rule with each chunk count; one job per (rule
# configuration, size), so they run in parallel and a changed size or rule re-runs only its own.
# The Higgs stand-in (a smoothed bootstrap of the real events, conservattack.data.standin) has its
# own data, model and folder, results/higgs/scaling_stand-in/, apart from the real-data results.

rule scaling_standin_data:
    """The Higgs stand-in: the real events split as the Higgs study splits them, each split
    resampled on its own to its share of stand_in.events with noise on continuous values only,
    the missing-value policy and min-max scaling fitted on its training split."""
    input:
        script_path("scaling_standin_data"),
        lib("scaling_standin_data"),
        csv=higgs_csv_inputs() if "higgs" in DATASETS else [],
    output:
        train=f"results/higgs/{STANDIN_FOLDER}/data/train.parquet",
        val=f"results/higgs/{STANDIN_FOLDER}/data/val.parquet",
        test=f"results/higgs/{STANDIN_FOLDER}/data/test.parquet",
        scaler=f"results/higgs/{STANDIN_FOLDER}/data/scaler.json",
        meta=f"results/higgs/{STANDIN_FOLDER}/data/data.json",
    log:
        f"results/higgs/logs/{STANDIN_FOLDER}_prepare.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(4000, 40),
        runtime=by_input_size(20, 1),
    params:
        stand_in=lambda w: config["higgs"]["scaling"]["stand_in"],
        missing_policy=lambda w: config["higgs"]["missing_policy"],
        split=lambda w: config["higgs"]["split"],
        # the Higgs study's split of the real events, then the stand-in's own resampling
        split_seed=lambda w: derived_seed(config["seed"], "higgs", "data"),
        seed=lambda w: derived_seed(config["seed"], "higgs", STANDIN_FOLDER),
    script:
        "../../scripts/scaling_standin_data.py"


rule scaling_train:
    """The stand-in's model: the paper's MLP trained on the stand-in's training split, early
    stopping on its validation split (the test split's events have no copy in either)."""
    input:
        script_path("train_classifier"),
        lib("train_classifier"),
        train="results/{dataset}/scaling_stand-in/data/train.parquet",
        val="results/{dataset}/scaling_stand-in/data/val.parquet",
        scaler="results/{dataset}/scaling_stand-in/data/scaler.json",
    output:
        model="results/{dataset}/scaling_stand-in/model.pt",
        meta="results/{dataset}/scaling_stand-in/model.json",
    log:
        "results/{dataset}/logs/scaling_stand-in_train.log",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(60, 1),
    params:
        training=lambda w: scaling_block(w)["training"] or ds(w)["training"],
        seed=lambda w: derived_seed(config["seed"], w.dataset, STANDIN_FOLDER, "init"),
        shuffle_seed=lambda w: derived_seed(
            config["seed"], w.dataset, STANDIN_FOLDER, "shuffle"
        ),
    script:
        "../../scripts/train_classifier.py"


rule scaling_data:
    """The attacked set: the test split's targeted events of the study's model, in one seeded
    random order (the subset of size n is its first n events); the sizes checked against it."""
    input:
        script_path("scaling_data"),
        lib("scaling_data"),
        test=lambda w: scaling_source(w, "test"),
        scaler=lambda w: scaling_source(w, "scaler"),
        model=lambda w: scaling_source(w, "model"),
        standin=lambda w: scaling_source(w, "standin"),
    output:
        attacked="results/{dataset}/{folder}/attacked.parquet",
        meta="results/{dataset}/{folder}/attacked.json",
    log:
        "results/{dataset}/logs/{folder}_data.log",
    wildcard_constraints:
        folder="scaling|scaling_stand-in",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(10, 0.5),
    params:
        # the sizes are no param (a new size must not re-select the set): the script reads them
        target=lambda w: scaling_attack_block(w)["target"],
        run=lambda w: None if scaling_standin(w.dataset) else scaling_block(w)["run"],
        seed=lambda w: derived_seed(config["seed"], w.dataset, w.folder, "order"),
    script:
        "../../scripts/scaling_data.py"


rule scaling_attack:
    """The attack of one subset (the attacked set's first n events) with one rule configuration."""
    input:
        script_path("scaling_attack"),
        lib("scaling_attack"),
        attacked="results/{dataset}/{folder}/attacked.parquet",
        meta="results/{dataset}/{folder}/attacked.json",
        scaler=lambda w: scaling_source(w, "scaler"),
        model=lambda w: scaling_source(w, "model"),
    output:
        "results/{dataset}/{folder}/attacks/{config}/n{size}.json",
    log:
        "results/{dataset}/logs/{folder}_attack_{config}_n{size}.log",
    wildcard_constraints:
        folder="scaling|scaling_stand-in",
        config=r"exact|reference_c\d+|calibrated",
        size=r"\d+|all",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=by_input_size(2000, 10),
        runtime=by_input_size(60, 20),
        gpu=scaling_gpus,
        request_gpus=scaling_gpus,
    params:
        attack=scaling_attack_block,
        calibration=lambda w: scaling_block(w)["calibrated"],
        seed=lambda w: derived_seed(config["seed"], w.dataset, w.folder, "attack"),
    script:
        "../../scripts/scaling_attack.py"


rule scaling_table:
    """The study's table: one row per (rule configuration, size)."""
    input:
        script_path("scaling_table"),
        lib("scaling_table"),
        checked=scaling_checked_sizes,
        attacks=lambda w: expand(
            "results/{{dataset}}/{{folder}}/attacks/{config}/n{size}.json",
            config=scaling_configs(w.dataset),
            size=scaling_sizes(w.dataset),
        ),
    output:
        "results/{dataset}/{folder}/{folder}.csv",
    log:
        "results/{dataset}/logs/{folder}_table.log",
    wildcard_constraints:
        folder="scaling|scaling_stand-in",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/scaling_table.py"


rule plot_scaling:
    """Fooling ratio, JSD and relative FN versus the attacked-set size, a line per rule
    configuration, the paper's number as a reference; a stand-in says so."""
    input:
        script_path("plot_scaling"),
        lib("plot_scaling"),
        table="results/{dataset}/{folder}/{folder}.csv",
        meta="results/{dataset}/{folder}/attacked.json",
    output:
        report(
            "results/{dataset}/{folder}/figures/{folder}.png",
            caption="../report/scaling.rst",
            category="Size scaling",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "{folder}"},
        ),
        "results/{dataset}/{folder}/figures/{folder}.pdf",
    log:
        "results/{dataset}/logs/plot_{folder}.log",
    wildcard_constraints:
        folder="scaling|scaling_stand-in",
    conda:
        "../../envs/conservattack.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        numbers=report_numbers,
        dataset=lambda w: w.dataset,
    script:
        "../../scripts/plot_scaling.py"
