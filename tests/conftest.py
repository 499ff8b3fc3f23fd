"""Shared fixtures. The helpers the tests import by name (``oracle``, ``problems``, ``paths``,
``snakemake_helpers``, ...) live in tests/helpers/, put on the path here; the tests are
imported with pytest's importlib mode, so test files in different folders may share a name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "helpers"))

from problems import correlated_unit_data, model_labels, small_model  # noqa: E402


@pytest.fixture
def small_problem():
    X = correlated_unit_data(300, 4, seed=1)
    model = small_model(4, seed=2)
    y = model_labels(model, X)
    return model, X, y
