"""bench/longctx.py: which NIAH lengths each RoPE runs (the grid the docs' rows come from)."""

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[2] / "bench" / "longctx.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_longctx", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scalings_run_past_the_window_unless_asked_within(bench) -> None:
    grid = [1024, 8192, 16384]
    assert bench.niah_lengths(grid, 8192, scaled=False, within=False) == grid
    assert bench.niah_lengths(grid, 8192, scaled=True, within=False) == [16384]
    assert bench.niah_lengths(grid, 8192, scaled=True, within=True) == grid
    assert bench.niah_lengths([1024, 8192], 8192, scaled=True, within=False) == []
