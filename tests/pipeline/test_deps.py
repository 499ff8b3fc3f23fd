"""Static discovery of the library modules each rule script uses."""

from pathlib import Path

from conservattack.pipeline.deps import LIB_DIR, module_dependencies
from paths import ROOT


def names(script):
    """The library files a rule script depends on, relative to the package (``attacks/api.py``)."""
    return {Path(p).relative_to(LIB_DIR).as_posix() for p in module_dependencies(ROOT / "scripts" / f"{script}.py")}


def test_transitive_dependencies():
    attack = names("attack")
    assert {"__init__.py", "attacks/__init__.py", "attacks/api.py", "attacks/state.py", "attacks/running_stats.py",
            "attacks/metrics.py", "attacks/inference.py", "attacks/params.py", "attacks/engines/cpu.py"} <= attack
    assert "plots/figures.py" not in attack and "data/donut.py" not in attack
    assert "studies/paper.py" not in attack, "editing the paper's numbers must not re-run attacks"
    assert "studies/detection.py" not in attack and "studies/cross_run.py" not in attack
    assert "studies/paper.py" in names("summary")
    assert "plots/figures.py" in names("plot_runs") and "attacks/api.py" not in names("plot_runs")
    assert "attacks/api.py" not in names("train_classifier") and "models/mlp.py" in names("train_classifier")
    assert "models/mlp.py" not in names("prepare_donut") and "data/donut.py" in names("prepare_donut")


def test_lazy_exports_of_a_subpackage_are_followed(tmp_path):
    script = tmp_path / "uses_export.py"
    script.write_text("from conservattack.attacks import attack\n")
    deps = {Path(p).relative_to(LIB_DIR).as_posix() for p in module_dependencies(script)}
    assert {"attacks/__init__.py", "attacks/api.py", "attacks/state.py", "_lazy.py"} <= deps
    assert "attacks/disco.py" in deps  # api imports it (use_disco) inside attack()
    assert "models/mlp.py" not in deps


def test_every_script_resolves_to_existing_files():
    for script in (ROOT / "scripts").glob("*.py"):
        deps = module_dependencies(script)
        assert deps, script
        assert all(Path(p).is_file() for p in deps)
