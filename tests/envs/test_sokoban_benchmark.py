"""Smoke test of benchmarks/sokoban.py (our side only; the reference needs its own venv)."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sokoban.py"


def test_benchmark_measures_ours_and_prints_a_table():
    spec = importlib.util.spec_from_file_location("sokoban_bench", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ours = bench.run_ours((6, 6), 1, SimpleNamespace(resets=3, steps=50))
    assert len(ours["resets"]) == 3 and ours["steps_per_s_rgb"] > 0 and ours["steps_per_s_text"] > 0
    ref = {"resets": [0.5, 0.7, 10.0], "cut": 1, "steps_per_s": 100.0}
    text = bench.table({"6x6, 1 box": (ours, ref)})
    assert "| 6x6, 1 box | reset median (ms) |" in text and ">=" in text  # a cut reset makes a lower bound
    assert text.count("\n") == 5
