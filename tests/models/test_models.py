"""The paper MLP, deterministic training with early stopping, and model files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import conservattack
from conservattack.attacks.inference import predict_proba
from conservattack.models.mlp import (PaperMLP, TrainingConfig, count_parameters, load_model, save_model, train_classifier)
from conservattack.attacks.params import ParameterError


@pytest.mark.parametrize("d,expected", [(30, 42_163), (87, 59_263)])
def test_parameter_count_matches_paper(d, expected):
    assert count_parameters(PaperMLP(d)) == expected


def toy(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(size=(n, 3))
    y = ((X[:, 0] + 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)) > 0.75).astype(int)
    return X, y


def test_training_is_deterministic_per_seed_and_learns():
    torch.set_num_threads(1)
    X, y = toy(1200, 0)
    Xv, yv = toy(400, 1)
    cfg = TrainingConfig(max_epochs=4, patience=2, batch_size=64)
    m1, met1 = train_classifier(X, y, Xv, yv, cfg, seed=11)
    m2, met2 = train_classifier(X, y, Xv, yv, cfg, seed=11)
    m3, _ = train_classifier(X, y, Xv, yv, cfg, seed=12)
    for a, b in zip(m1.state_dict().values(), m2.state_dict().values()):
        assert torch.equal(a, b)
    assert met1["val_loss"] == met2["val_loss"]
    assert not np.array_equal(predict_proba(m1, Xv), predict_proba(m3, Xv))
    assert met1["val_auroc"] > 0.9
    assert met1["trainable_parameters"] == count_parameters(PaperMLP(3))


def test_early_stopping_keeps_best_epoch():
    X, y = toy(600, 2)
    Xv, yv = toy(200, 3)
    # a huge learning rate makes the validation loss bounce: training stops before max_epochs
    model, met = train_classifier(X, y, Xv, yv, TrainingConfig(learning_rate=0.5, max_epochs=60, patience=2), seed=0)
    assert met["epochs_run"] < 60
    assert met["epochs_run"] - met["best_epoch"] == 2
    best = min(h["val_loss"] for h in met["history"])
    assert met["val_loss"] == best


def test_save_load_roundtrip(tmp_path):
    X, y = toy(300, 4)
    model, met = train_classifier(X, y, X, y, TrainingConfig(max_epochs=1), seed=0)
    save_model(model, tmp_path / "m.pt", {"metrics": met, "config": {"a": 1}})
    loaded = load_model(tmp_path / "m.pt")
    np.testing.assert_array_equal(predict_proba(model, X), predict_proba(loaded, X))
    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["n_inputs"] == 3 and meta["config"] == {"a": 1}
    (tmp_path / "bad.pt").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="bad.pt: not a conservattack model file"):
        load_model(tmp_path / "bad.pt")


def test_training_config_is_validated():
    with pytest.raises(ParameterError, match="unknown training parameter"):
        TrainingConfig.from_config({"epochs": 3})
    with pytest.raises(ParameterError, match="'batch_size'"):
        TrainingConfig(batch_size=0)


def test_read_only_arrays_reach_torch_without_a_warning():
    # pandas 3's DataFrame.to_numpy hands out read-only views; torch.as_tensor warns on those
    # ("writing to this tensor will result in undefined behavior") once per process, so the check
    # runs in a fresh interpreter where that warning is an error.
    code = """
import numpy as np, pandas as pd
from conservattack.attacks.inference import loss_gradient_sign, predict_proba
from conservattack.models.mlp import PaperMLP, TrainingConfig, train_classifier
df = pd.DataFrame(np.random.default_rng(0).uniform(size=(64, 4)), columns=list("abcd"))
df["d"] = (df["d"] > 0.5).astype(np.float64)
X, y, w = df[list("abc")].to_numpy(), df["d"].to_numpy(), df["a"].to_numpy()
assert not (X.flags.writeable or y.flags.writeable or w.flags.writeable)
model, _ = train_classifier(X, y, X, y, TrainingConfig(max_epochs=1), seed=0, weights_train=w, weights_val=w)
predict_proba(model, X)
loss_gradient_sign(model, X, y)
loss_gradient_sign(PaperMLP(3).double(), X, y)
"""
    lib = Path(conservattack.__file__).parents[1]  # the package under test, not another install
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(lib), *sys.path])}
    done = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", code], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
