"""Write the analyst-toolkit example (docs/own-data.md; config
resources/configs/custom_example.yaml): an events file, a real-data file and a model (TorchScript
and torch.export), as an analyst would bring them.

- events.csv: 4,000 Donut-toy events (docs/method.md section 3) in "physical" units, px and py in GeV
  (20 x the toy's x1, x2), the label column is_signal (1 signal, 0 background) and a weight
  column the workflow ignores;
- real.csv: 2,000 unlabelled events of a slightly different toy (background radius 1.9
  instead of 1.8), standing in for collision data;
- model.pt: a small MLP trained here on the raw px, py (not min-max scaled), ending in a
  sigmoid, saved with torch.jit.save(torch.jit.script(model)). It exports its logit
  (``@torch.jit.export def logit``), so the attack's gradient sign stays exact on events where
  float32 rounds the sigmoid to 0 or 1 (docs/own-data.md);
- model.pt2: the same model saved with torch.export (``torch.export.save``), TorchScript's
  successor; the workflow finds its logit in the exported graph (the sigmoid at its end).

Run from the repository root: .venv/bin/python resources/example/make_example.py
(deterministic; the committed files are its output).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "workflow" / "lib"))
from conservattack.data.donut import generate_donut  # noqa: E402
from conservattack.models.exported import save_exported  # noqa: E402

SCALE = 20.0  # GeV per toy unit


def events(n_per_class: int, seed: int, radius_mean: float = 1.8):
    df = generate_donut(n_signal=n_per_class, n_background=n_per_class, seed=seed, radius_mean=radius_mean)
    df["px"] = (SCALE * df.x1).round(4)
    df["py"] = (SCALE * df.x2).round(4)
    df["is_signal"] = df.label
    df["weight"] = 1.0
    return df.sample(frac=1.0, random_state=seed)[["px", "py", "is_signal", "weight"]]


class Classifier(torch.nn.Module):
    """The analyst's own model: it takes raw px, py in GeV and normalises them itself."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                                       torch.nn.ReLU(), torch.nn.Linear(32, 1))

    @torch.jit.export
    def logit(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x / 40.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logit(x))


def main() -> None:
    sim = events(2000, seed=11)
    sim.to_csv(HERE / "events.csv", index=False)
    events(1000, seed=12, radius_mean=1.9)[["px", "py"]].to_csv(HERE / "real.csv", index=False)
    torch.manual_seed(13)
    model = Classifier()
    X = torch.tensor(sim[["px", "py"]].to_numpy(np.float32))
    y = torch.tensor(sim.is_signal.to_numpy(np.float32)).reshape(-1, 1)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy(model(X), y)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        acc = float(((model(X) >= 0.5).float() == y).float().mean())
    print(f"training loss {loss.item():.4f}, accuracy {acc:.4f}")
    torch.jit.save(torch.jit.script(model), str(HERE / "model.pt"))
    save_exported(model, 2, torch.float32, HERE / "model.pt2")  # the number of events dynamic


if __name__ == "__main__":
    main()
