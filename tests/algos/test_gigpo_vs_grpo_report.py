"""benchmarks/gigpo_vs_grpo.py: the paired summary and its table from finished runs (no training)."""

import argparse

import pytest

from tests.benchmark_scripts import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("gigpo_vs_grpo") as module:
        yield module


def record(seed, warm, gigpo, grpo):
    run = lambda end: {"curve": {0: warm, 15: end}, "cpu_s": 60.0, "means": {"success": end}}  # noqa: E731
    return {"seed": seed, "cpu_warm_start_s": 120.0, "gigpo": run(gigpo), "grpo": run(grpo)}


def args(**kw):
    base = dict(setting="sokoban-8x8", iterations=15, tasks=4, group_size=8, warm_start_steps=400, warm_start_episodes=2000, eval_episodes=256)
    return argparse.Namespace(**{**base, **kw})


def test_the_difference_is_paired_per_seed_and_fewer_than_five_seeds_make_no_claim(bench):
    # GiGPO is 2 points ahead on every seed although the seeds' levels differ by 30 points: the paired CI is tight
    recs = [record(s, 0.1 + 0.1 * s, 0.12 + 0.1 * s, 0.10 + 0.1 * s) for s in range(4)]
    summary = bench.summarise(recs, args())
    d = summary["difference_gigpo_minus_grpo"]
    assert d["iqm"] == pytest.approx(0.02) and d["ci95"] == pytest.approx([0.02, 0.02])
    assert summary["gigpo"]["gain"]["iqm"] == pytest.approx(0.02) and summary["grpo"]["gain"]["iqm"] == pytest.approx(0.0)
    lines = bench.report_lines(summary, args(), "abc1234")
    assert "| 0 | 10.0% | 12.0% | 10.0% | +2.0 |" in lines
    assert any("(fewer than 5 seeds: no claim)" in line for line in lines)
    assert not any("no claim" in line for line in bench.report_lines(bench.summarise([record(s, 0.2, 0.2, 0.2) for s in range(5)], args()), args(), "x"))


def test_runs_that_do_not_share_their_start_are_flagged(bench, caplog):
    recs = [record(0, 0.2, 0.2, 0.2), record(1, 0.2, 0.2, 0.2)]
    recs[1]["grpo"]["curve"][0] = 0.3
    bench.summarise(recs, args())
    assert "do not share their start" in caplog.text
