"""The workflow on a REAL single-node SLURM cluster with workflow/profiles/slurm.

The test starts munged, slurmctld and slurmd (tests/local_slurm.py; apt-get installs slurm-wlm and
munge when they are missing), runs the attack part of the small .test configuration through
sbatch, and checks that
- every job went through SLURM: one sbatch job per rule job, each COMPLETED in slurmctld's record;
- a GPU goes to the jobs that declare one and to no other: the attack jobs here, through a
  command-line `gpu=1` (the rules declare it themselves only with engine: cuda, which needs a real
  GPU; tests/workflow/test_cluster_profiles.py checks that part in dry runs); training declares none;
- every job gets the memory and time limit its rule declares (mem_mb grows with the input size);
- the outputs equal those of a local run of the same configuration (same seeds, same numbers:
  data, model weights, adversaries, metrics);
and stops the daemons it started. It skips, saying why, where no cluster can run (not root, or
SLURM missing and not installable). Snakemake runs under `timeout -k`: the SLURM plugin can wait
silently forever on a broken status command.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from local_slurm import LocalSlurm, Unavailable, ensure_installed
from snakemake_helpers import SNAKEMAKE, copy_workflow, smk

pytestmark = [pytest.mark.slow, pytest.mark.slurm]

CONFIG = ".test/config.yaml"
# the data, both runs' classifiers and attacks, and the cross-run evaluation: 6 jobs, 2 on the GPU
TARGETS = ["results/donut/cross_run_fooling.csv", "results/donut/metrics_per_run.csv"]
JOBS = {"prepare_donut": 1, "train_classifier": 2, "attack": 2, "cross_run_fooling": 1}
GPU_RULES = {"attack"}
SNAKEMAKE_LIMIT_S = 900


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("timeout") is None:
        pytest.skip("no `timeout` command to bound the SLURM run")
    try:
        ensure_installed()
    except Unavailable as exc:
        pytest.skip(f"no real SLURM cluster on this machine: {exc}")
    root = Path(tempfile.mkdtemp(prefix="conservattack-slurm-"))
    c = LocalSlurm(root, gpus=2)  # as many as the node has CPUs: both runs train at once
    try:
        try:
            c.start()
        except Unavailable as exc:
            pytest.skip(f"no real SLURM cluster on this machine: {exc}")
        yield c
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


def slurm_jobs(wd: Path) -> dict[str, list[str]]:
    """Rule -> SLURM job ids, from the plugin's per-job logs (.snakemake/slurm_logs/rule_<rule>/)."""
    jobs: dict[str, list[str]] = {}
    for log in (wd / ".snakemake" / "slurm_logs").rglob("*.log"):
        rule = next(p.name.removeprefix("rule_") for p in log.parents if p.name.startswith("rule_"))
        jobs.setdefault(rule, []).append(log.stem)
    return jobs


def minutes(limit: str) -> int:
    """A SLURM time limit ([days-]hours:minutes:seconds) in minutes, rounded down."""
    days, _, hms = limit.rpartition("-")
    h, m, s = (int(x) for x in hms.split(":"))
    return int(days or 0) * 1440 + h * 60 + m + s // 60


def test_workflow_on_a_real_slurm_cluster(cluster, tmp_path):
    (tmp_path / "local").mkdir()
    (tmp_path / "slurm").mkdir()
    local = copy_workflow(tmp_path / "local")
    smk(local, *TARGETS, "--configfile", CONFIG)  # targets first: --configfile takes a list

    wd = copy_workflow(tmp_path / "slurm")
    cmd = ["timeout", "-k", "30", str(SNAKEMAKE_LIMIT_S), str(SNAKEMAKE), *TARGETS,
           "--profile", "workflow/profiles/slurm", "--configfile", CONFIG, "--jobs", "4",
           # this cluster has no slurmdbd, so no sacct (../shared/notes/local-slurm.md)
           "--slurm-status-command", "squeue",
           "--slurm-keep-successful-logs", "--slurm-init-seconds-before-status-checks", "2",
           "--set-resources", "attack:gpu=1"]
    proc = subprocess.run(cmd, cwd=wd, env=cluster.env, capture_output=True, text=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, (f"snakemake on SLURM failed ({proc.returncode}; 124 = ran past "
                                  f"{SNAKEMAKE_LIMIT_S} s):\n{output[-4000:]}\n{cluster.logs()}")

    # every job went through sbatch and completed in slurmctld's record
    jobs = slurm_jobs(wd)
    assert {rule: len(ids) for rule, ids in jobs.items()} == JOBS, output[-3000:]
    completed = {j["JobId"]: j for j in cluster.completed_jobs()}
    for rule, ids in jobs.items():
        for jobid in ids:
            assert completed.get(jobid, {}).get("JobState") == "COMPLETED", (rule, jobid, completed.get(jobid))
            assert completed[jobid]["WorkDir"] == str(wd)

            # the resources the profile and the rule ask for reached SLURM
            job = cluster.job(jobid)
            assert job["Comment"].startswith(f"rule_{rule}"), job["Comment"]
            assert (job.get("TresPerJob") == "gres:gpu:1") == (rule in GPU_RULES), (rule, job.get("TresPerJob"))
            mem = int(re.fullmatch(r"(\d+)M", job["MinMemoryNode"]).group(1))
            limit = minutes(job["TimeLimit"])
            if rule in ("train_classifier", "attack"):  # by_input_size(2000, 10) MB, (60, 1) minutes
                assert 2000 < mem < 2000 + 10 * 10 and 60 < limit < 60 + 10, (rule, mem, limit)
            else:
                assert mem >= 1000 and limit >= 5, (rule, mem, limit)

    # same seeds, same numbers as the local run
    a, b = local / "results" / "donut", wd / "results" / "donut"
    for split in ("train", "val", "test"):
        pd.testing.assert_frame_equal(pd.read_parquet(a / "data" / f"{split}.parquet"),
                                      pd.read_parquet(b / "data" / f"{split}.parquet"), check_exact=True)
    for run in (0, 1):
        wa = torch.load(a / "runs" / f"run{run}" / "model.pt", weights_only=True)["state_dict"]
        wb = torch.load(b / "runs" / f"run{run}" / "model.pt", weights_only=True)["state_dict"]
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa), f"run {run} weights differ"
        adv = f"runs/run{run}/attack/adversaries.parquet"
        pd.testing.assert_frame_equal(pd.read_parquet(a / adv), pd.read_parquet(b / adv), check_exact=True)
    pd.testing.assert_frame_equal(pd.read_csv(a / "cross_run_fooling.csv"), pd.read_csv(b / "cross_run_fooling.csv"),
                                  check_exact=True)
    per_run_a, per_run_b = (pd.read_csv(d / "metrics_per_run.csv").drop(columns="attack_seconds") for d in (a, b))
    pd.testing.assert_frame_equal(per_run_a, per_run_b, check_exact=True)
    assert 0 < per_run_b.fooling_ratio.min() and not math.isnan(per_run_b.relative_fn.sum())
