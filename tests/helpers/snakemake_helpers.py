"""Running the workflow from tests: a private copy of the workflow and Snakemake as a subprocess."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from paths import ROOT

SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def _not_copied(folder, names):
    """Caches everywhere, and resources/data (downloads and generated inputs)."""
    skip = {"__pycache__"} | ({"data"} if Path(folder).resolve() == (ROOT / "resources").resolve() else set())
    return [name for name in names if name in skip]


def copy_workflow(dest: Path) -> Path:
    """Copy what the workflow needs (not results, downloads or caches) into ``dest``."""
    for name in ("Snakefile", "config.yaml", ".test", "workflow", "profiles", "scripts", "resources", "envs"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=_not_copied)
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


def rule_blocks() -> dict[str, str]:
    """Rule name -> the text of its definition, for every rule in workflow/rules/*.smk."""
    out = {}
    for smk_file in (ROOT / "workflow" / "rules").glob("*.smk"):
        for m in re.finditer(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", smk_file.read_text(), re.M | re.S):
            out[m.group(1)] = m.group(2)
    return out


def rule_scripts() -> dict[str, str]:
    """Rule -> stem of its script, for every rule of the workflow that runs one."""
    out = {}
    for rule, block in rule_blocks().items():
        script = re.search(r'^    script:\n\s+"([^"]+)"', block, re.M)
        if script:
            out[rule] = Path(script.group(1)).stem
    return out
