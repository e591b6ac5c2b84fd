"""benchmarks/hierarchy.py: the summary's paired statistics on hand numbers, and a smoke run of the whole script."""

from __future__ import annotations

import json

import pytest

from tests.benchmark_scripts import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("hierarchy") as module:
        yield module


def _run(arm: str, seed: int, success: float, length: float = 10.0, oracle: float | None = None) -> dict:
    run = {"arm": arm, "seed": seed, "tokens": 100, "final": {"eval_success": success, "eval_length": length}, "curve": []}
    if oracle is not None:
        run["oracle_plan"] = {"eval_success": oracle}
    return run


def test_summary_pairs_seeds_with_flat_gigpo(bench):
    runs = [_run("flat-gigpo", s, v) for s, v in enumerate([0.1, 0.2, 0.3, 0.4])]
    runs += [_run("hrpo-blueprint", s, v, oracle=0.9) for s, v in enumerate([0.2, 0.2, 0.5, 0.4])]  # differences +0.1, 0, +0.2, 0
    summary = bench.summarise(runs, ["flat-gigpo", "hrpo-blueprint"], resamples=200)
    diff = summary["hrpo-blueprint"]["success_minus_flat"]
    assert diff["per_seed"] == pytest.approx([0.1, 0.0, 0.2, 0.0])
    assert diff["iqm"] == pytest.approx(0.05)  # IQM of [0, 0, 0.1, 0.2]: the middle two, 0 and 0.1
    assert summary["hrpo-blueprint"]["oracle_plan_success"]["iqm"] == pytest.approx(0.9)
    assert "success_minus_flat" not in summary["flat-gigpo"]
    lo, hi = summary["flat-gigpo"]["eval_success"]["ci95"]
    assert 0.1 <= lo <= summary["flat-gigpo"]["eval_success"]["iqm"] <= hi <= 0.4


@pytest.mark.slow
def test_smoke_run_writes_results_summary_and_curves(tmp_path, bench):
    summary = bench.main(["--smoke", "--out", str(tmp_path / "results"), "--runs-dir", str(tmp_path / "runs")])
    assert set(summary) == {"flat-gigpo", "hrpo-blueprint", "hrpo-switch"}
    out = tmp_path / "results" / "smoke"
    data = json.loads((out / "results.json").read_text())
    assert all(r["tokens"] > 0 and r["iterations"] >= 1 for r in data["runs"])
    assert "oracle_plan" in next(r for r in data["runs"] if r["arm"] == "hrpo-blueprint")
    assert (out / "curves.png").stat().st_size > 0 and "hrpo-switch" in (out / "summary.md").read_text()
