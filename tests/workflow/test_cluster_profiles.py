"""The cluster profiles (workflow/profiles/slurm, workflow/profiles/htcondor): attack jobs ask for a
GPU exactly when their attack block sets engine: cuda (training never does), and a dry run with
each profile, through its real executor plugin, plans the whole small workflow with the requested
resources.

No HTCondor pool can run here (no Debian package; ../shared/notes/local-slurm.md), so the HTCondor
profile is checked with a dry run only. Its plugin is not in the `test` extra: the `htcondor` module
it imports warns about a missing condor_config in every Snakemake call of an environment without
HTCondor. When it is not installed, the dry-run test installs it (pip, no dependencies beyond
`htcondor`) into pytest's cache directory, once, and puts it on PYTHONPATH for that one call. The
SLURM profile's real run is tests/workflow/test_slurm.py.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from snakemake_helpers import ROOT, copy_workflow, rule_scripts, smk

PROFILES = ROOT / "workflow" / "profiles"
GPU_KEY = {"slurm": "gpu", "htcondor": "request_gpus"}
HTCONDOR_PLUGIN = ["snakemake-executor-plugin-htcondor>=0.3,<1", "htcondor>=24.5.1,<25"]


def profile(name: str) -> dict:
    return yaml.safe_load((PROFILES / name / "config.yaml").read_text())


# Rule scripts that run an attack: their rules ask for a GPU when the attack's engine is cuda (the
# DisCo attack, attack.py with use_disco, runs on numpy only; the rule comparison's reference-rule
# and calibrated attacks, attack.py with rule: reference or constraints: calibrated, on the engine
# auto picks for them, never cuda).
ATTACK_SCRIPTS = {"attack", "restricted_attack", "adversarial_training_attack", "scaling_attack"}
NUMPY_ONLY_RULES = {"disco_attack", "reference_attack", "calibrated_attack"}
# The others: training (no device code), downloads, data preparation, evaluation, tables, figures.
CPU_SCRIPTS = {"train_classifier", "train_detector", "train_augmented", "adversarial_training_retrain",
               "disco_detector", "download_higgs", "prepare_higgs", "prepare_donut", "download_ttww", "prepare_ttww",
               "prepare_ttww_real", "prepare_real_data", "prepare_custom", "import_model", "augmentation_subset", "best_cut", "cross_run_fooling",
               "restricted_metrics", "evaluate_detectors", "augmentation_metrics", "adversarial_training_evaluate",
               "adversarial_training_metrics", "disco_metrics", "verdict", "summary", "plot_point_clouds",
               "plot_attack_run", "plot_runs", "plot_restricted", "plot_detector", "plot_detector_point_clouds",
               "plot_augmentation", "plot_adversarial_training", "plot_disco", "record_config",
               "scaling_standin_data", "scaling_data", "scaling_table", "plot_scaling", "rule_comparison",
               "plot_rule_comparison", "validate_attack", "validation_summary"}


def cuda_attack_rules() -> set[str]:
    """Rules whose script runs an attack that the cuda engine can run."""
    return {rule for rule, script in rule_scripts().items() if script in ATTACK_SCRIPTS} - NUMPY_ONLY_RULES


def test_every_rule_script_is_classified_gpu_or_cpu():
    unclassified = set(rule_scripts().values()) - ATTACK_SCRIPTS - CPU_SCRIPTS
    assert not unclassified, (f"scripts {sorted(unclassified)}: add each to ATTACK_SCRIPTS (it runs an attack; "
                              "then its rule declares gpu and request_gpus with cuda_gpus) or to CPU_SCRIPTS")


@pytest.mark.parametrize("name", ["slurm", "htcondor"])
def test_profiles_leave_gpus_to_the_rules(name):
    p = profile(name)
    assert p["executor"] == name
    asked = {rule for rule, res in (p.get("set-resources") or {}).items() if GPU_KEY[name] in res}
    assert not asked, f"{name}: set-resources asks for GPUs for {sorted(asked)}; the rules declare them"
    assert {"attack", "detector_attack", "augmentation_attack"} <= cuda_attack_rules()


def cuda_config(wd: Path) -> str:
    """.test/config.yaml with the donut's attack blocks set to engine: cuda (its adversarial-training
    test attack is null: the attack study's adversaries)."""
    cfg = yaml.safe_load((wd / ".test" / "config.yaml").read_text())
    donut = cfg.setdefault("donut", {})
    for path in (("attack",), ("detector", "attack"), ("augmentation", "attack"),
                 ("adversarial_training", "train_attack")):
        block = donut
        for key in path:
            block = block.setdefault(key, {})
        block["engine"] = "cuda"
    (wd / "cuda.yaml").write_text(yaml.safe_dump(cfg))
    return "cuda.yaml"


def test_every_rule_declares_threads_mem_and_runtime():
    for smk_file in (ROOT / "workflow" / "rules").glob("*.smk"):
        for m in re.finditer(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", smk_file.read_text(), re.M | re.S):
            body = m.group(2)
            assert re.search(r"^    threads: ", body, re.M), m.group(1)
            assert re.search(r"^        mem_mb=", body, re.M) and re.search(r"^        runtime=", body, re.M), m.group(1)


# The workflow profile's `quiet: [rules]` leaves each job's block (rule, inputs, resources) out of
# the output; any other value of --quiet replaces it and brings the blocks back.
SHOW_JOBS = ["--quiet", "host"]


def dry_run_resources(out: str) -> dict[str, list[str]]:
    """Rule -> the `resources:` lines of its jobs in a dry run's output (run with SHOW_JOBS)."""
    res: dict[str, list[str]] = {}
    for block in re.split(r"\n(?=\[[^\]]+\]\n(?:local)?rule )", out):
        m = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        r = re.search(r"^    resources: (.*)$", block, re.M)
        if m and r:
            res.setdefault(m.group(1), []).append(r.group(1))
    return res


def check_dry_run(out: str, gpu_resource: str, cuda: bool = False) -> None:
    """Every job declares memory and runtime; a GPU (``gpu_resource``, e.g. gpu=1) exactly for the
    attack jobs when ``cuda`` (the config's attack blocks set engine: cuda), else for none."""
    res = dry_run_resources(out)
    gpu = cuda_attack_rules() if cuda else set()
    assert {"train_classifier", "attack", "detector_attack"} <= set(res), sorted(res)
    for rule, lines in res.items():
        if rule == "all":
            continue  # only collects the targets
        for line in lines:
            assert (gpu_resource in line.split(", ")) == (rule in gpu), (rule, line)
            assert "mem_mb=" in line and "runtime=" in line, (rule, line)


@pytest.fixture(scope="module")
def htcondor_pythonpath(request, tmp_path_factory) -> str | None:
    """A PYTHONPATH entry that provides the HTCondor executor plugin (None: already installed).
    Kept in pytest's cache between runs; in a temporary folder under ``-p no:cacheprovider``."""
    if importlib.util.find_spec("snakemake_executor_plugin_htcondor"):
        return None
    cache = getattr(request.config, "cache", None)
    target = cache.mkdir("htcondor-plugin") if cache else tmp_path_factory.mktemp("htcondor-plugin")
    if not (target / "snakemake_executor_plugin_htcondor").is_dir():
        try:
            proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                                   *HTCONDOR_PLUGIN], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            pytest.skip("pip install of the HTCondor executor plugin ran past 600 s")
        if proc.returncode != 0:
            pytest.skip(f"the HTCondor executor plugin is not installed and pip could not install it:\n"
                        f"{proc.stderr[-1000:]}")
    return str(target)


def test_htcondor_profile_dry_run(tmp_path, htcondor_pythonpath):
    wd = copy_workflow(tmp_path)
    env = dict(os.environ, CONDOR_CONFIG=os.environ.get("CONDOR_CONFIG", "/dev/null"))
    if htcondor_pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(p for p in [htcondor_pythonpath, env.get("PYTHONPATH")] if p)
    cmd = [str(Path(sys.executable).with_name("snakemake")), "-n", *SHOW_JOBS, "--profile",
           "workflow/profiles/htcondor", "--configfile"]
    proc = subprocess.run(cmd + [cuda_config(wd)], cwd=wd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    check_dry_run(proc.stdout + proc.stderr, "request_gpus=1", cuda=True)
    proc = subprocess.run(cmd + [".test/config.yaml"], cwd=wd, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    check_dry_run(out, "request_gpus=1")
    for rule, lines in dry_run_resources(out).items():  # HTCondor's memory request is the rule's mem_mb
        for line in lines if rule != "all" else ():  # all only collects the targets
            res = dict(item.split("=", 1) for item in line.split(", "))
            assert res["htcondor_request_mem_mb"] == res["mem_mb"], (rule, line)


def test_slurm_profile_dry_run(tmp_path):
    wd = copy_workflow(tmp_path)
    # The SLURM plugin refuses to start, even for a dry run, without sacct or squeue on PATH; there
    # the profile's resources are checked with the local executor (tests/workflow/test_slurm.py runs the
    # plugin on a real cluster, installing SLURM first).
    local = [] if shutil.which("squeue") or shutil.which("sacct") else ["--executor", "local"]
    out = smk(wd, "-n", *SHOW_JOBS, "--profile", "workflow/profiles/slurm", *local, "--configfile", ".test/config.yaml").stdout
    check_dry_run(out, "gpu=1")
    out = smk(wd, "-n", *SHOW_JOBS, "--profile", "workflow/profiles/slurm", *local, "--configfile", cuda_config(wd)).stdout
    check_dry_run(out, "gpu=1", cuda=True)
    # a per-rule override on the command line keeps the rule's own GPU request
    out = smk(wd, "-n", *SHOW_JOBS, "--profile", "workflow/profiles/slurm", *local, "--configfile", cuda_config(wd),
              "--set-resources", "attack:mem_mb=8000").stdout
    check_dry_run(out, "gpu=1", cuda=True)
