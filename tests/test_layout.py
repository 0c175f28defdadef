"""The layout's own rules that no linter checks."""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_script_is_named_like_an_installed_package():
    # A benchmark runs with its folder first on sys.path: benchmarks/coverage.py once
    # stood in for coverage.py, which numba imports, and every grids run failed there.
    # Installed packages, the standard library, and what they import when present.
    taken = (set(importlib.metadata.packages_distributions()) | set(sys.stdlib_module_names)
             | {"coverage", "pytest_cov"})
    assert {"numba", "geopandas", "json"} <= taken
    shadowing = [p.name for p in sorted((ROOT / "benchmarks").glob("*.py")) if p.stem in taken]
    assert shadowing == []
