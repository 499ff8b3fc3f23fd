"""Running the workflow from tests: a private copy of the workflow and Snakemake as a subprocess."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def copy_workflow(dest: Path) -> Path:
    """Copy what the workflow needs (not results, downloads or caches) into ``dest``."""
    for name in ("Snakefile", "config.yaml", ".test", "workflow", "profiles", "scripts", "resources", "envs"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "data"))
        else:
            shutil.copy2(src, dest / name)
    return dest


def smk(wd: Path, *args, check=True):
    proc = subprocess.run([str(SNAKEMAKE), "--cores", "2", *args], cwd=wd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {args} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def planned_jobs(wd: Path, *args) -> dict[str, int]:
    """Rule -> job count of a dry run (its "Job stats" table); {} when nothing is to be done."""
    out = smk(wd, "-n", *args).stdout
    if "Nothing to be done" in out:
        return {}
    table = out.split("Job stats:")[1].split("total")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
