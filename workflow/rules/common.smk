# Helpers shared by the rules: paths, per-dataset config, seeds, library dependencies and
# resources.
# (The Snakefile puts the library of this checkout on sys.path and PYTHONPATH: LIB.)
import json
import math
import os
from pathlib import Path

from conservattack.pipeline.deps import module_dependencies  # noqa: E402
from conservattack.data.higgs import higgs_files  # noqa: E402
from conservattack.pipeline.report import ReportNumbers, RunArguments  # noqa: E402
from conservattack.pipeline.report import recorded_config  # noqa: E402
from conservattack.pipeline.seeds import derived_seed  # noqa: E402
from conservattack.pipeline.custom_config import check_custom_config  # noqa: E402
from conservattack.pipeline.configschema import comparison_chunks  # noqa: E402
from conservattack.pipeline.configschema import comparison_runs  # noqa: E402
from conservattack.studies.rule_comparison import calibrated_params  # noqa: E402
from conservattack.data.ttww import config_key as ttww_config_key  # noqa: E402
from conservattack.data.ttww import local_inputs as ttww_local_inputs  # noqa: E402
from conservattack.data.ttww import sample_config as ttww_sample_config  # noqa: E402
from conservattack.studies.scaling import check_sizes as check_scaling_sizes  # noqa: E402
from conservattack.studies.scaling import rule_configs as scaling_rule_configs  # noqa: E402
from conservattack.studies.scaling import size_tokens as scaling_size_tokens  # noqa: E402

SCRIPTS = Path(workflow.basedir) / "scripts"
DATASETS = config["datasets"]
# the --configfile and --config arguments of this invocation, for results/<dataset>/config.yaml
RUN_ARGUMENTS = RunArguments(
    workflow.config_settings.configfiles, workflow.config_settings.config_args
)


wildcard_constraints:
    dataset="|".join(DATASETS),
    run=r"\d+",
    chunks=r"\d+",


def _relative(path):
    """Paths relative to the working directory, so that moving a checkout re-runs nothing."""
    return os.path.relpath(path, os.getcwd())


def script_path(name):
    """Path of a rule's script."""
    return _relative(SCRIPTS / f"{name}.py")


def lib(name):
    """The library modules the script ``name`` imports, as inputs of its rule: editing one re-runs
    exactly the rules whose scripts use it (Snakemake's code trigger sees only the script).
    """
    return [_relative(p) for p in module_dependencies(SCRIPTS / f"{name}.py")]


def mirror_memory_for_htcondor(rules, overwrite_resources):
    """Give every rule with ``mem_mb`` the same value (or the same input-size function) as
    ``htcondor_request_mem_mb``, unless ``set-resources`` (``overwrite_resources``: the profile's or
    the command line's, per rule) sets that for the rule. A value from ``default-resources`` is
    replaced: the rule's own mem_mb is the better estimate."""
    for rule_ in rules:
        mem = rule_.resources.get("mem_mb") if rule_.resources is not None else None
        if mem is None or "htcondor_request_mem_mb" in overwrite_resources.get(
            rule_.name, {}
        ):
            continue
        if mem.is_evaluable():

            def same_as_mem_mb(wildcards, input, attempt, threads, mem=mem):
                return mem.evaluate(
                    wildcards, input=input, attempt=attempt, threads=threads
                ).value

            rule_.resources["htcondor_request_mem_mb"] = same_as_mem_mb
        else:
            rule_.resources["htcondor_request_mem_mb"] = mem.value


def tracked(block, *untracked):
    """``block`` without keys that cannot change a rule's outputs (a download's retries and
    timeout, a reader's chunk size, axis units), for the rule's params: Snakemake re-runs a rule
    when its params change, so only what the outputs depend on goes there. The scripts read the
    others from ``snakemake.config``."""
    return {key: value for key, value in block.items() if key not in untracked}


def ds(wildcards):
    """The config block of the rule's dataset."""
    return config[wildcards.dataset]


def runs(dataset):
    return [str(r) for r in range(config[dataset]["runs"])]


def run_seed(wildcards, purpose):
    """Seed of one run and purpose, derived from the base seed (independent streams)."""
    return derived_seed(config["seed"], wildcards.dataset, purpose, int(wildcards.run))


def by_input_size(base, per_mb):
    """A resource that grows with the job's input: ``base + per_mb * (input size in MB)``.

    For ``mem_mb`` (MB) and ``runtime`` (minutes) of the rules whose cost follows the number of
    events they read (data preparation, training, attacks, evaluation over runs): the events are
    held in memory a few times over (float64 copies, torch tensors), and the attack and training
    loops visit every event. Snakemake evaluates it when the job is ready to run, on its real
    inputs; dry runs show ``<TBD>`` while they do not exist yet. Rules that read small tables keep
    fixed values. Cluster profiles (workflow/profiles/) submit these numbers; set-resources or
    --set-resources override them per rule.
    """

    def resource(wildcards, input):
        return math.ceil(base + per_mb * input.size_mb)

    return resource


def figures(dataset):
    """The figures of a study (stems under results/<dataset>/figures/)."""
    out = [
        "marginals",
        "metrics_per_run",
        "correlation_matrices",
        "cross_run_fooling",
        "fooling_vs_iteration",
    ]
    if dataset == "donut":
        out.append("point_clouds")
    if rule_comparison_enabled(dataset):
        out.append("rule_comparison")
    if restricted_enabled(dataset):
        out += ["restricted_fooling", "restricted_jsd_fn"]
    if augmentation_enabled(dataset):
        out.append("augmentation_auroc")
    if adversarial_training_enabled(dataset):
        out.append("adversarial_training")
    if disco_enabled(dataset):
        out += [
            "disco_matrices",
            "disco_marginals",
            "disco_auroc_vs_size",
            "disco_vs_pearson",
        ]
    if detector_enabled(dataset):
        out += [
            "detector_per_run",
            "detector_cross_run",
            "repeated_misclassification",
            "clean_acceptance",
        ]
        if dataset == "donut":
            out.append("detector_point_clouds")
    return out


def augmentation_enabled(dataset):
    return config[dataset].get("augmentation", {}).get("enabled", False)


def adversarial_training_enabled(dataset):
    return config[dataset].get("adversarial_training", {}).get("enabled", False)


def cuda_gpus(*block):
    """The GPUs an attack job asks for, as a resource of its rule, 1 when the attack config
    block at ``block`` (keys under the dataset's block) sets ``engine: cuda``, else 0. Declared
    as both ``gpu`` (SLURM plugin, --gpus) and ``request_gpus`` (HTCondor). Training and the
    cpu, numpy and DisCo engines never use a GPU, so no job queues for one it would leave idle.
    (Snakemake's lint reads "rule", a space and a colon on one line as a rule.)"""

    def gpus(wildcards):
        cfg = ds(wildcards)
        for key in block:
            cfg = cfg[key] or {}  # a null attack block runs no attack of its own
        return 1 if cfg.get("engine") == "cuda" else 0

    return gpus


def advtrain(wildcards):
    """The adversarial-training block of the rule's dataset."""
    return ds(wildcards)["adversarial_training"]


def advtrain_iterations(dataset):
    return [
        str(k)
        for k in range(1, config[dataset]["adversarial_training"]["iterations"] + 1)
    ]


def advtrain_test_adversaries(dataset, run):
    """The test adversaries of a run: the study's own attack when ``test_attack`` is null (the
    Donut: same parameters), otherwise this study's test attack."""
    if config[dataset]["adversarial_training"]["test_attack"] is None:
        return f"results/{dataset}/runs/run{run}/attack/adversaries.parquet"
    return f"results/{dataset}/adversarial_training/run{run}/test_adversaries.parquet"


def advtrain_seed(wildcards, purpose):
    """Seed of one run, iteration and purpose."""
    return derived_seed(
        config["seed"],
        wildcards.dataset,
        "adversarial_training",
        purpose,
        int(wildcards.run),
        int(wildcards.iteration),
    )


def disco_enabled(dataset):
    return config[dataset].get("disco", {}).get("enabled", False)


def disco(wildcards):
    """The disco block of the rule's dataset."""
    return ds(wildcards)["disco"]


def disco_runs(dataset):
    """The runs of the study: the first ``disco.runs`` of the dataset's runs (null: all)."""
    k = config[dataset]["disco"]["runs"]
    return runs(dataset)[: k if k else None]


DISCO_ROLES = {
    "attack": ("test", "attack"),
    "detector_train": ("train", "detector_train_attack"),
    "detector_test": ("test", "detector_test_attack"),
}


def disco_attack_config(wildcards):
    """The attack block of one method and role; use_disco follows the method."""
    c = disco(wildcards)
    block = (
        c["pearson_attack"]
        if wildcards.method == "pearson"
        else c[DISCO_ROLES[wildcards.role][1]]
    )
    return {
        **block,
        "params": {**block["params"], "use_disco": wildcards.method == "disco"},
    }


def disco_keys(dataset):
    """(method, run) of every detector of the study, in input order."""
    return [(m, r) for m in ("disco", "pearson") for r in disco_runs(dataset)]


def disco_inputs(pattern):
    """One path per (method, run); ``role`` is the main attack's (Pearson: its test attack)."""

    def paths(wildcards):
        return [
            pattern.format(
                dataset=wildcards.dataset,
                method=m,
                run=r,
                role="attack" if m == "disco" else "detector_test",
            )
            for m, r in disco_keys(wildcards.dataset)
        ]

    return paths


def detector_enabled(dataset):
    return config[dataset].get("detector", {}).get("enabled", False)


def restricted_enabled(dataset):
    return config[dataset].get("restricted", {}).get("enabled", False)


def rule_comparison_enabled(dataset):
    return config[dataset].get("rule_comparison", {}).get("enabled", False)


def reference_attack_config(wildcards):
    """The attack study's block under the reference rule with the job's chunk count, on the engine
    auto picks for that rule (the block's own engine may run the exact rule only)."""
    block = ds(wildcards)["attack"]
    params = {**block["params"], "rule": "reference", "n_chunks": int(wildcards.chunks)}
    return {**block, "engine": "auto", "batch_events": 0, "params": params}


def calibrated_comparison_enabled(dataset):
    comparison = config[dataset].get("rule_comparison", {})
    return comparison.get("enabled", False) and comparison.get("calibrated", {}).get("enabled", False)


def calibrated_attack_config(wildcards):
    """The attack study's block under the calibrated constraints of ``rule_comparison.calibrated``,
    on the engine auto picks: the block's cuda engine may be batched, which does not take them, and
    the cuda engine's calibrated kernel has no GPU timing yet (docs/performance.md)."""
    block = ds(wildcards)["attack"]
    calibration = ds(wildcards)["rule_comparison"]["calibrated"]
    return {**block, "engine": "auto", "batch_events": 0,
            "params": calibrated_params(block["params"], calibration)}


def rule_comparison_attacks(name):
    """Input function of the comparison table, ``name`` (attack.json or adversaries.parquet) of
    every compared run, the exact rule's, then the reference rule's per chunk count, then the
    calibrated attack's (where enabled)."""

    def paths(wildcards):
        d, compared = wildcards.dataset, comparison_runs(config, wildcards.dataset)
        out = [f"results/{d}/runs/run{r}/attack/{name}" for r in compared]
        for k in comparison_chunks(config, d):
            out += [
                f"results/{d}/runs/run{r}/attack_reference/chunks{k}/{name}"
                for r in compared
            ]
        if calibrated_comparison_enabled(d):
            out += [f"results/{d}/runs/run{r}/attack_calibrated/{name}" for r in compared]
        return out

    return paths


def study_inputs(enabled, pattern):
    """Input function: ``pattern`` (formatted with the rule's dataset) when ``enabled(dataset)``
    says the dataset runs that study, else no file."""

    def inputs(wildcards):
        return (
            [pattern.format(dataset=wildcards.dataset)]
            if enabled(wildcards.dataset)
            else []
        )

    return inputs


def all_outputs():
    out = []
    for d in DATASETS:
        out += [f"results/{d}/summary.csv", f"results/{d}/cross_run_fooling.csv"]
        out += [f"results/{d}/config.yaml", f"results/{d}/attack_parameters.csv"]
        if detector_enabled(d):
            out.append(f"results/{d}/verdict.md")
        out += expand(
            f"results/{d}/figures/{{fig}}.{{ext}}", fig=figures(d), ext=["png", "pdf"]
        )
        if scaling_enabled(d):  # workflow/rules/scaling.smk
            out += scaling_outputs(d)
        out += validation_outputs(d)  # workflow/rules/validation.smk
    return out


def higgs_csv_inputs():
    """The Higgs CSV files: the configured local copy, or the verified download."""
    cfg = config["higgs"]
    if cfg["local_files"]:
        try:
            return [_relative(p) for p in higgs_files(cfg["local_files"])]
        except (FileNotFoundError, ValueError) as exc:
            raise ValueError(f"config higgs.local_files: {exc}") from None
    return [cfg["download"]["dest"]]


def ttww_sample(name):
    """The config block of a TT vs WW sample: tt, ww or real (the SingleMu data)."""
    return ttww_sample_config(config["ttww"], name)


def ttww_inputs(name):
    """A TT vs WW sample's ROOT inputs: its local_files, or the manifest of its verified download."""
    if "ttww" not in DATASETS or (name == "real" and not config["ttww"]["real_data"]):
        return []
    cfg = ttww_sample(name)
    if cfg["local_files"]:
        return [_relative(p) for p in ttww_local_inputs(cfg["local_files"], name)]
    if not cfg["records"]:
        raise ValueError(
            f"config {ttww_config_key(name)}: set records (CERN Open Data ids) or local_files"
            + (" (or ttww.real_data: null for no real data)" if name == "real" else "")
        )
    return [f"{config['ttww']['opendata']['dest']}/{name}/manifest.json"]


# The HTML report (`snakemake --report report.html`): each figure's PNG is flagged with its
# caption (workflow/report/<figure>.rst), its study as category and its dataset as subcategory.
STUDIES = {
    "attack": "1. Attack",
    "restricted": "2. Restricted attack",
    "augmentation": "3. Augmentation",
    "adversarial_training": "4. Adversarial training",
    "detector": "5-7. Adversarial detector",
    "donut": "8. Donut illustration",
    "disco": "9. Distance correlation",
    "summary": "0. Summary and verdict",
}


def figure(name, study):
    """A figure's outputs: the PNG flagged for the report, and the PDF."""
    stem = f"results/{{dataset}}/figures/{name}"
    return [
        snakemake.io.report(
            f"{stem}.png",
            caption=f"../report/{name}.rst",
            category=STUDIES[study],
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": name},
        ),
        f"{stem}.pdf",
    ]


def declared_units(wildcards):
    """Units the user declared for a custom data set's features (custom.data.units), else none."""
    return config.get(wildcards.dataset, {}).get("data", {}).get("units", {})


def report_numbers(wildcards):
    """Our numbers beside the paper's, read when a caption is rendered (conservattack.pipeline.report)."""
    return ReportNumbers(wildcards.dataset)


# Size scaling (workflow/rules/scaling.smk, docs/method.md section 8.7).
STANDIN_FOLDER = "scaling_stand-in"


def scaling_enabled(dataset):
    return config[dataset].get("scaling", {}).get("enabled", False)


def scaling_block(wildcards):
    return ds(wildcards)["scaling"]


def scaling_standin(dataset):
    return config[dataset]["scaling"]["data"] == "stand-in"


def scaling_folder(dataset):
    """The study's folder under results/<dataset>/: scaling, or scaling_stand-in for the stand-in."""
    return STANDIN_FOLDER if scaling_standin(dataset) else "scaling"


def scaling_attack_block(wildcards):
    """The attack at every size (the study sets the rule and n_chunks), scaling.attack, else the
    dataset's attack block."""
    return scaling_block(wildcards)["attack"] or ds(wildcards)["attack"]


def scaling_configs(dataset):
    c = config[dataset]["scaling"]
    return [r.name for r in scaling_rule_configs(c["rules"], c["n_chunks"])]


def scaling_sizes(dataset):
    return scaling_size_tokens(config[dataset]["scaling"]["sizes"])


def scaling_source(wildcards, name):
    """The attacked set's origin: the stand-in's split, scaler and model, or the dataset's test
    split, scaler and the model of run scaling.run."""
    d, folder = wildcards.dataset, wildcards.folder
    if folder != scaling_folder(d):
        raise ValueError(
            f"results/{d}/{folder}/: the configuration's scaling study of {d} writes to "
            f"results/{d}/{scaling_folder(d)}/ (scaling.data: {config[d]['scaling']['data']})"
        )
    if folder == STANDIN_FOLDER:
        return {
            "test": f"results/{d}/{folder}/data/test.parquet",
            "scaler": f"results/{d}/{folder}/data/scaler.json",
            "model": f"results/{d}/{folder}/model.pt",
            "standin": f"results/{d}/{folder}/data/data.json",
        }.get(name, [])
    return {
        "test": f"results/{d}/data/test.parquet",
        "scaler": f"results/{d}/data/scaler.json",
        "model": f"results/{d}/runs/run{config[d]['scaling']['run']}/model.pt",
    }.get(name, [])


def scaling_outputs(dataset):
    """The study's table and figure (the attacks are their inputs)."""
    folder = scaling_folder(dataset)
    return [
        f"results/{dataset}/{folder}/{folder}.csv",
        f"results/{dataset}/{folder}/figures/{folder}.png",
        f"results/{dataset}/{folder}/figures/{folder}.pdf",
    ]


def scaling_targets():
    """The outputs of the target `scaling`: the study of every dataset that enables it."""
    enabled = [d for d in DATASETS if scaling_enabled(d)]
    if not enabled:
        raise ValueError(
            f"target scaling: no dataset of {DATASETS} sets scaling.enabled: true "
            "(e.g. --configfile resources/configs/scaling_higgs.yaml)"
        )
    return [f for d in enabled for f in scaling_outputs(d)]


def scaling_checked_sizes(wildcards):
    """No input; once the attacked set exists, the configured sizes are checked against it here,
    while the DAG is built, so that a size changed later stops before any job, naming the key
    (the first time, rule scaling_data checks them)."""
    meta = Path(f"results/{wildcards.dataset}/{wildcards.folder}/attacked.json")
    if meta.is_file():
        n = json.loads(meta.read_text())["n_attacked"]
        check_scaling_sizes(
            scaling_block(wildcards)["sizes"],
            f"{wildcards.dataset}.scaling.sizes",
            n,
            what=f"the attacked set ({n} events, {meta})",
        )
    return []


def scaling_gpus(wildcards):
    """One GPU for an attack job exactly when it runs the exact rule on engine cuda (the
    reference rule runs on the CPU, see scripts/scaling_attack.py)."""
    cuda = scaling_attack_block(wildcards).get("engine") == "cuda"
    return 1 if cuda and wildcards.config == "exact" else 0


# Validation of every attack against an independent sample (workflow/rules/validation.smk,
# docs/method.md section 9).
# the attack folders under results/<dataset>/runs/run<r>/ that hold an attack to validate; a new
# kind of attack adds its folder here and in validated_attacks
VALIDATED_FOLDERS = r"attack|attack_reference/chunks\d+|attack_calibrated"


def validation_enabled(dataset):
    return config[dataset].get("validation", {}).get("enabled", False)


def validated_attacks(dataset):
    """(run, folder) of every attack of the dataset that is validated: each run's attack, and the
    reference-rule and calibrated attacks of the rule comparison."""
    out = [(r, "attack") for r in runs(dataset)]
    if rule_comparison_enabled(dataset):
        for k in comparison_chunks(config, dataset):
            out += [
                (r, f"attack_reference/chunks{k}")
                for r in comparison_runs(config, dataset)
            ]
        if calibrated_comparison_enabled(dataset):
            out += [(r, "attack_calibrated") for r in comparison_runs(config, dataset)]
    return out


def validation_files(dataset, name):
    return [
        f"results/{dataset}/runs/run{r}/{folder}/{name}"
        for r, folder in validated_attacks(dataset)
    ]


def validation_outputs(dataset):
    """The default targets of the validation: every attack's files and the dataset's table."""
    if not validation_enabled(dataset):
        return []
    out = [f"results/{dataset}/validation.csv"]
    for name in ("validation.csv", "validation.json", "validation.png"):
        out += validation_files(dataset, name)
    return out
