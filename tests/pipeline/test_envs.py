"""The conda environments (envs/*.yaml, for --software-deployment-method conda on clusters) carry
the same dependencies as pyproject.toml, at versions pyproject accepts."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from paths import ROOT

# Snakemake runs the jobs from its own installation; rule scripts reach it through the preamble
# of the script directive, so the rules' environment does not install it.
NOT_IN_RULE_ENVS = {"snakemake"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def env_packages(path: Path) -> tuple[str, dict[str, Requirement]]:
    """(python version, pip requirements by canonical name) of a conda environment file."""
    env = yaml.safe_load(path.read_text())
    python, pip = None, {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                req = Requirement(line)
                pip[canonicalize_name(req.name)] = req
        elif re.match(r"python[=<> ]", dep):
            python = re.split(r"[=<> ]+", dep, maxsplit=1)[1]
    return python, pip


ENVS = sorted((ROOT / "envs").glob("*.yaml"))


def test_there_is_an_environment_and_every_rule_uses_one():
    assert ENVS, "no envs/*.yaml"
    for smk in [ROOT / "Snakefile", *(ROOT / "workflow" / "rules").glob("*.smk")]:
        text = smk.read_text()
        rules = re.findall(r"^rule (\w+):", text, re.M)
        conda = re.findall(r'^    conda:\n        "\.\./\.\./envs/([\w.-]+\.yaml)"', text, re.M)
        if smk.name == "Snakefile":
            continue  # rule all only collects targets
        assert len(conda) == len(rules), f"{smk.name}: a rule without a conda environment"
        assert all((ROOT / "envs" / name).is_file() for name in conda)


@pytest.mark.parametrize("path", ENVS, ids=[p.name for p in ENVS])
def test_environment_matches_pyproject(path):
    python, pip = env_packages(path)
    project = pyproject()
    assert python is not None, f"{path.name}: no python version"
    assert SpecifierSet(project["requires-python"]).contains(python + ".0"), (python, project["requires-python"])
    wanted = {canonicalize_name(Requirement(d).name): Requirement(d) for d in project["dependencies"]}
    wanted = {name: req for name, req in wanted.items() if name not in NOT_IN_RULE_ENVS}
    assert set(pip) == set(wanted), (f"{path.name} lacks {sorted(set(wanted) - set(pip))}, "
                                     f"has extra {sorted(set(pip) - set(wanted))}")
    for name, req in pip.items():
        pins = [s for s in req.specifier if s.operator == "=="]
        assert len(pins) == 1, f"{path.name}: {req} is not pinned to one version"
        assert wanted[name].specifier.contains(pins[0].version, prereleases=True), \
            f"{path.name}: {req} is outside pyproject's {wanted[name]}"
