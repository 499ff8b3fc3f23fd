"""Where the tests find the repository and the shared real data beside it."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository (tests/helpers/ -> tests/ -> root)
SHARED = ROOT.parent / "shared"  # ../shared: real samples and reference traces; tests skip where absent
HELPERS = Path(__file__).resolve().parent
