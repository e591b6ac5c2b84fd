"""benchmarks/hierarchy.py: the summary's paired statistics on hand numbers, and a smoke run of the whole script."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.benchmark_scripts import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("hierarchy") as module:
        yield module


def _run(arm: str, seed: int, success: float, length: float = 10.0, oracle: float | None = None, start: float = 0.0,
         planner_oracle: float | None = None) -> dict:
    run = {"arm": arm, "seed": seed, "tokens": 100, "iterations": 3, "start": {"eval_success": start, "eval_length": 20.0},
           "final": {"eval_success": success, "eval_length": length}, "curve": [{"iteration": 0, "tokens": 100, "success": success, "length": length}]}
    if oracle is not None:
        run["oracle_plan"] = {"eval_success": oracle}
    if planner_oracle is not None:
        run["planner_oracle_executor"] = {"success": planner_oracle}
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


def test_summary_reports_rl_gain_and_the_planner_with_an_oracle_executor(bench):
    runs = [_run("hrpo-blueprint", s, v, start=0.1, oracle=0.5, planner_oracle=0.8) for s, v in enumerate([0.2, 0.3, 0.1, 0.2])]
    summary = bench.summarise(runs, ["hrpo-blueprint"], resamples=200)["hrpo-blueprint"]
    assert summary["rl_gain"]["per_seed"] == pytest.approx([0.1, 0.2, 0.0, 0.1])
    assert summary["planner_oracle_executor_success"]["iqm"] == pytest.approx(0.8)


def test_report_only_summarises_the_runs_finished_by_separate_seed_processes(tmp_path, bench):
    runs_dir = tmp_path / "runs" / "r"
    runs_dir.mkdir(parents=True)
    for seed, (flat, bp) in enumerate([(0.1, 0.2), (0.2, 0.2), (0.3, 0.4)]):
        for arm, v in (("flat-gigpo", flat), ("hrpo-blueprint", bp)):
            run = {**_run(arm, seed, v, oracle=0.6 if arm == "hrpo-blueprint" else None, planner_oracle=0.9 if arm == "hrpo-blueprint" else None),
                   "command": f"python benchmarks/hierarchy.py --first-seed {seed} --seeds 1", "commit": "abc1234", "cpu_s": 60.0}
            (runs_dir / f"{arm}-seed{seed}.json").write_text(json.dumps(run))
    summary = bench.main(["--report-only", "--seeds", "3", "--arms", "flat-gigpo", "hrpo-blueprint", "--name", "r",
                          "--out", str(tmp_path / "results"), "--runs-dir", str(tmp_path / "runs")])
    assert summary["hrpo-blueprint"]["success_minus_flat"]["per_seed"] == pytest.approx([0.1, 0.0, 0.1])
    text = (tmp_path / "results" / "r" / "summary.md").read_text()
    assert "--first-seed 2 --seeds 1" in text and "abc1234" in text and "| hrpo-blueprint | 2 | 0.0 | 40.0 |" in text
    with pytest.raises(SystemExit):  # nothing finished under another name
        bench.main(["--report-only", "--name", "none", "--out", str(tmp_path / "results"), "--runs-dir", str(tmp_path / "runs")])


def test_subgoal_oracle_pushes_a_box_onto_the_named_target(bench):
    from hiergym.envs.sokoban.level import Level

    level = Level.from_text("#######\n#P_X_O#\n#_____#\n#_X__O#\n#######")
    assert bench.sokoban_subgoal_actions(level, (1, 5), set(), 10) == ["right", "right", "right"]
    far = bench.sokoban_subgoal_actions(level, (3, 5), set(), 20)
    assert far is not None and len(far) > 3
    assert bench.sokoban_subgoal_actions(level, (3, 5), set(), 2) is None  # not reachable within max_len moves


def _oracle_loop(k: int, limit: int = 12):
    import gymnasium as gym

    import hiergym  # noqa: F401  (registers the envs)

    env = SimpleNamespace(env_id="hiergym/Sokoban-6x6-1box-v0", max_episode_steps=limit)
    return SimpleNamespace(config=SimpleNamespace(env=env, hierarchy=SimpleNamespace(max_segment_steps=k)), make_env=gym.make)


def test_planner_with_oracle_executor_succeeds_only_on_plans_that_name_the_targets(bench):
    import gymnasium as gym

    from hiergym.info_keys import InfoKeys

    seeds, texts = [], []
    env = gym.make("hiergym/Sokoban-6x6-1box-v0")
    for seed in range(40):
        _, info = env.reset(seed=seed)
        if 2 <= info[InfoKeys.OPTIMAL_LENGTH] <= 8:
            seeds.append(seed)
            texts.append(info[InfoKeys.SUBGOALS][0].text)
    env.close()

    def trajs(plans):
        return [SimpleNamespace(seed=s, turns=[SimpleNamespace(info={InfoKeys.PLAN: p})]) for s, p in zip(seeds, plans)]

    good = bench.oracle_executor_success(_oracle_loop(k=8), trajs([[t] for t in texts]))
    assert good["success"] == 1.0 and good["plan_exact_share"] == 1.0
    assert bench.oracle_executor_success(_oracle_loop(k=8), trajs([["fly to the moon"]] * len(seeds)))["success"] == 0.0
    assert bench.oracle_executor_success(_oracle_loop(k=8), trajs([[]] * len(seeds)))["plan_complete_share"] == 0.0
    assert bench.oracle_executor_success(_oracle_loop(k=1), trajs([[t] for t in texts]))["success"] == 0.0  # k moves a segment at most


@pytest.mark.slow
def test_smoke_run_writes_results_summary_and_curves(tmp_path, bench):
    summary = bench.main(["--smoke", "--out", str(tmp_path / "results"), "--runs-dir", str(tmp_path / "runs")])
    assert set(summary) == {"flat-gigpo", "hrpo-blueprint", "hrpo-switch"}
    out = tmp_path / "results" / "smoke"
    data = json.loads((out / "results.json").read_text())
    assert all(r["tokens"] > 0 and r["iterations"] >= 1 for r in data["runs"])
    assert "oracle_plan" in next(r for r in data["runs"] if r["arm"] == "hrpo-blueprint")
    assert (out / "curves.png").stat().st_size > 0 and "hrpo-switch" in (out / "summary.md").read_text()


def test_reuse_warm_start_names_an_arm_and_fills_in_the_seed(tmp_path, bench):
    (tmp_path / "warm-seed3").mkdir()
    (tmp_path / "warm-seed3" / "config.json").write_text("{}")
    args = bench.parse(["--reuse-warm-start", f"flat-gigpo={tmp_path}/warm-seed{{seed}}"])
    assert bench.reused_warm_start("flat-gigpo", 3, args) == tmp_path / "warm-seed3"
    assert bench.reused_warm_start("flat-gigpo", 4, args) is None  # no model there: the arm fits its own warm start
    assert bench.reused_warm_start("hrpo-blueprint", 3, args) is None  # only the named arm reuses
