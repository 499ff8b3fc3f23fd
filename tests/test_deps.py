"""Static discovery of the library modules each rule script uses."""

from pathlib import Path

from conservattack.deps import module_dependencies

ROOT = Path(__file__).resolve().parents[1]


def names(script):
    return {Path(p).name for p in module_dependencies(ROOT / "scripts" / f"{script}.py")}


def test_transitive_dependencies():
    attack = names("attack")
    assert {"__init__.py", "attacks.py", "stats.py", "metrics.py", "inference.py", "params.py"} <= attack
    assert "plots.py" not in attack and "donut.py" not in attack
    assert "paper.py" not in attack, "editing the paper's numbers must not re-run attacks"
    assert "detection.py" not in attack and "study.py" not in attack
    assert "paper.py" in names("summary")
    assert "plots.py" in names("plot_runs") and "attacks.py" not in names("plot_runs")
    assert "attacks.py" not in names("train_classifier") and "models.py" in names("train_classifier")
    assert "models.py" not in names("prepare_donut") and "donut.py" in names("prepare_donut")


def test_every_script_resolves_to_existing_files():
    for script in (ROOT / "scripts").glob("*.py"):
        deps = module_dependencies(script)
        assert deps, script
        assert all(Path(p).is_file() for p in deps)
