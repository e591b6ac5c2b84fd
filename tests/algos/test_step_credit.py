"""benchmarks/step_credit.py: the step-group numbers on hand-built batches, and the scripted expert's rollouts."""


import pytest

from tests.benchmark_scripts import benchmark_module

from hiergym.algos.configs import GiGPOConfig
from hiergym.types import Trajectory, Turn

@pytest.fixture(scope="module")
def bench():
    with benchmark_module("step_credit") as module:
        yield module


def episode(group: str, anchors: list[str], rewards: list[float]) -> Trajectory:
    traj = Trajectory(group_id=group, env_id="e", seed=0)
    traj.turns = [Turn(observation=a, action="up", reward=r, anchor=a) for a, r in zip(anchors, rewards)]
    traj.episode_return = sum(rewards)
    traj.success = sum(rewards) > 0
    return traj


def test_step_group_numbers_of_a_hand_built_batch(bench):
    # group A: two episodes share s0 and s1, then part; only the first is rewarded (return-to-go differs in both shared states)
    # group B: one episode comes back to x (a step group of 2 inside one episode, equal return-to-go), one is a single turn
    trajs = [
        episode("A", ["s0", "s1", "s2"], [0, 0, 1]),
        episode("A", ["s0", "s1", "s3"], [0, 0, 0]),
        episode("B", ["x", "y", "x"], [0, 0, 0]),
        episode("B", ["z"], [0]),
    ]
    s = bench.step_group_stats(trajs, GiGPOConfig(group_size=2))
    assert s["turns"] == 10 and s["length_mean"] == 2.5 and s["success"] == 0.25
    assert s["grouped_share"] == pytest.approx(6 / 10)  # s0 x2, s1 x2, x x2
    assert s["grouped_share_after_first_turn"] == pytest.approx(3 / 6)  # s1 x2 and the second x
    assert s["step_group_size_mean"] == pytest.approx(16 / 10)
    assert s["anchor_reuse"] == pytest.approx((6 / 4 + 4 / 3) / 2)
    assert s["revisit_share"] == pytest.approx(1 / 10)
    assert s["step_signal_share"] == pytest.approx(4 / 10)  # s0 and s1 pairs; x's pair has equal return-to-go
    assert s["step_signal_share_after_first_turn"] == pytest.approx(2 / 6)
    assert s["step_signal_from_failed_groups"] == 0.0  # group A has a success; B has no step signal


def test_step_signal_of_a_group_without_success_is_counted_as_such(bench):
    # both episodes fail; the state s1 is reached at different times, so its return-to-go differs by the step penalty
    trajs = [episode("C", ["s0", "s1", "s2"], [-0.1, -0.1, -0.1]), episode("C", ["s0", "s2", "s1"], [-0.1, -0.1, -0.1])]
    s = bench.step_group_stats(trajs, GiGPOConfig(group_size=2))
    assert s["success"] == 0.0 and s["step_signal_share"] == pytest.approx(4 / 6)  # s1 and s2 pairs
    assert s["step_signal_from_failed_groups"] == 1.0
    assert s["step_adv_turn_corr"] == pytest.approx(1.0)  # the later visit of a state always has less penalty ahead


def test_a_noiseless_expert_repeats_itself_so_step_groups_carry_no_signal(bench):
    setting = bench.SETTINGS["sokoban-6x6"]
    trajs = bench.scripted_rollouts(setting, tasks=[3, 4], group_size=3, epsilon=0.0)
    s = bench.step_group_stats(trajs, GiGPOConfig(group_size=3))
    assert s["success"] == 1.0 and s["episodes"] == 6
    assert s["grouped_share"] == 1.0 and s["step_group_size_mean"] == 3.0  # the three copies walk the same path
    assert s["step_signal_share"] == 0.0 and s["episode_signal_share"] == 0.0


def test_a_random_policy_spreads_out_and_revisits(bench):
    setting = bench.SETTINGS["sokoban-6x6"]
    trajs = bench.scripted_rollouts(setting, tasks=[3], group_size=4, epsilon=1.0, seed=1)
    s = bench.step_group_stats(trajs, GiGPOConfig(group_size=4))
    assert s["length_mean"] > 5 and s["revisit_share"] > 0 and s["anchor_reuse"] > 1
