"""Smoke test of benchmarks/mgrpo.py at a tiny size: both arms run on paired seeds and every result file is written."""

import json
import sys

import pytest

from tests.benchmark_scripts import benchmark_module


@pytest.mark.slow
def test_mgrpo_benchmark_tiny(tmp_path):
    with benchmark_module("mgrpo") as bench:
        out = tmp_path / "res"
        args = ["--seeds", "1", "--compact-prompt", "--top-k", "3", "--init-eval-episodes", "1", "--token-budget", "200", "--tasks", "1", "--group-size", "2", "--slots", "2", "--kb-size", "100", "--eval-every", "100",
                "--eval-episodes", "2", "--hidden", "16", "--layers", "1", "--max-new-tokens", "8", "--max-steps", "3", "--max-sub-steps", "2",
                "--warm-start-episodes", "1", "--warm-start-steps", "1", "--out", str(out)]
        summary = bench.main(args)
        assert set(summary["arms"]) == {"mgrpo", "grpo_main_only"} and summary["seeds"] == [0]
        for arm in summary["arms"].values():
            assert all(t >= 200 for t in arm["tokens_per_seed"])  # each run spent its budget
            assert 0.0 <= arm["final_iqm"] <= 1.0 and len(arm["final_per_seed"]) == 1
        assert len(summary["paired_diff_mgrpo_minus_grpo"]["per_seed"]) == 1
        for name in ("results.json", "results.md", "curves.png"):
            assert (out / name).is_file()
        assert "| 0 |" in (out / "results.md").read_text()  # the per-seed table
        # a second seed in its own process (--first-seed), then the report over every finished seed
        bench.main([*args, "--first-seed", "1"])
        report = bench.main(["--report-only", "--out", str(out)])
        assert report["seeds"] == [0, 1] and len(report["paired_diff_mgrpo_minus_grpo"]["per_seed"]) == 2
        # paired: both arms of a seed start from the same initial weights
        runs = out / "runs"
        assert json.loads((runs / "grpo_main_only-seed0" / "config.json").read_text())["model_path"].endswith("mgrpo-seed0/model_init")
        del sys.modules["stats"]
