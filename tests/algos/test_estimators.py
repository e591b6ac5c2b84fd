"""compute_advantages over Trajectory objects, and the algorithm configs' checks."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

from hiergym.algos import (
    GiGPOConfig,
    GRPOConfig,
    TrainerConfig,
    compute_advantages,
    gigpo_advantages,
    gigpo_stats,
    gigpo_trajectory_parts,
)
from hiergym.error import ConfigError
from hiergym.types import Trajectory, Turn


def _traj(group, rewards, anchors=None, observations=None):
    anchors = anchors or [None] * len(rewards)
    observations = observations or [f"obs{i}" for i in range(len(rewards))]
    turns = [Turn(o, "act", reward=r, anchor=a) for r, a, o in zip(rewards, anchors, observations)]
    return Trajectory(group, "hiergym/Test-v0", 0, turns=turns, episode_return=sum(rewards))


def test_grpo_broadcasts_episode_advantage_to_every_turn():
    trajs = [_traj("a", [0.0, 1.0]), _traj("a", [0.0, 0.0, 0.0]), _traj("b", [5.0])]
    adv = compute_advantages(trajs, GRPOConfig(normalize_std=False))
    # group a returns 1 and 0 -> mean 0.5 -> +0.5 on both turns of the first, -0.5 on the three of the second
    assert [a.tolist() for a in adv] == [[0.5, 0.5], [-0.5, -0.5, -0.5], [0.0]]


def test_gigpo_adapter_equals_the_flat_function():
    trajs = [
        _traj("t", [0.0, 1.0], anchors=["s0", "s1"]),
        _traj("t", [0.0, 0.0, 1.0], anchors=["s0", "s2", "s1"]),
        _traj("u", [1.0], anchors=["s0"]),
    ]
    cfg = GiGPOConfig(gamma=0.9, omega=0.7)
    adv = compute_advantages(trajs, cfg)
    flat = gigpo_advantages(
        [0, 1, 0, 0, 1, 1], [0, 0, 1, 1, 1, 2], ["t"] * 5 + ["u"], ["s0", "s1", "s0", "s2", "s1", "s0"], gamma=0.9, omega=0.7
    )
    np.testing.assert_allclose(np.concatenate(adv), flat)
    assert [len(a) for a in adv] == [2, 3, 1]


def test_action_credit_keys_turns_by_their_parsed_action():
    def traj(actions, rewards):
        turns = [Turn("o", a, reward=r, anchor=f"s{i}") for i, (a, r) in enumerate(zip(actions, rewards))]
        return Trajectory("t", "hiergym/Test-v0", 0, turns=turns, episode_return=sum(rewards))

    # from s0 two copies go "left" (returns 1 and 0) and one answers unparsably (None, return 0)
    trajs = [traj(["left", "up"], [0.0, 1.0]), traj(["left", "up"], [0.0, 0.0]), traj([None, "up"], [0.0, 0.0])]
    parts = gigpo_trajectory_parts(trajs, GiGPOConfig(gamma=1.0, step_credit="action"))
    first = parts.step[[0, 2, 4]]
    assert first[0] == first[1] > 0 > first[2]  # Q(s0, left) = 1/2 above V(s0) = 1/3; the unparsable answer below
    assert parts.step[[1, 3, 5]].tolist() == [0.0, 0.0, 0.0]  # everyone said "up" from s1: no choice, no credit


def test_missing_anchor_falls_back_to_observation_text():
    # no anchors; the first turns share the observation "start", so they form a step group
    trajs = [
        _traj("t", [0.0, 1.0], observations=["start", "x"]),
        _traj("t", [0.0, 0.0], observations=["start", "y"]),
    ]
    parts = gigpo_trajectory_parts(trajs, GiGPOConfig())
    assert parts.step_group_size.tolist() == [2, 1, 2, 1]
    assert parts.step[0] > 0 > parts.step[2]  # 0.95 * 1 vs 0 return-to-go from the same observation
    none = gigpo_trajectory_parts(trajs, GiGPOConfig(anchor_fallback="none"))
    assert none.step_group_size.tolist() == [1, 1, 1, 1] and not none.step.any()
    # sizes 2, 1, 2, 1: half the turns have a step group, mean size 1.5
    stats = gigpo_stats(parts)
    assert stats["gigpo/step_grouped_share"] == 0.5 and stats["gigpo/step_group_size_mean"] == 1.5


def test_anchor_and_observation_keys_never_collide():
    # one turn's anchor digest equals another turn's observation text: they must not be grouped
    trajs = [_traj("t", [1.0], anchors=["abc"]), _traj("t", [0.0], observations=["abc"])]
    assert gigpo_trajectory_parts(trajs, GiGPOConfig()).step_group_size.tolist() == [1, 1]


def test_unknown_config_type_raises():
    with pytest.raises(TypeError, match="GRPOConfig or GiGPOConfig"):
        compute_advantages([_traj("a", [1.0])], TrainerConfig())


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"),
    [
        (GRPOConfig, {"group_size": 1}, "group_size"),
        (GRPOConfig, {"eps": 0.0}, "eps"),
        (GiGPOConfig, {"gamma": 1.2}, "gamma"),
        (GiGPOConfig, {"omega": -1.0}, "omega"),
        (GiGPOConfig, {"step_credit": "state"}, "step_credit"),
        (TrainerConfig, {"eps_low": 1.0}, "eps_low"),
        (TrainerConfig, {"dual_clip": 1.0}, "dual_clip"),
        (TrainerConfig, {"dual_clip": 1.4, "eps_high": 0.5}, "dual_clip"),
        (TrainerConfig, {"max_tokens_per_microbatch": 0}, "max_tokens_per_microbatch"),
        (TrainerConfig, {"lr": 0.0}, "lr"),
        (TrainerConfig, {"max_grad_norm": -1.0}, "max_grad_norm"),
    ],
)
def test_configs_reject_bad_values_naming_the_field(cls, kwargs, field):
    with pytest.raises(ConfigError, match=f"{field}=") as err:
        cls(**kwargs)
    assert err.value.field == field


def test_config_defaults_are_the_papers():
    assert GiGPOConfig().gamma == 0.95 and GiGPOConfig().omega == 1.0
    t = TrainerConfig()
    assert (t.eps_low, t.eps_high, t.loss_agg, t.kl_beta) == (0.2, 0.28, "token-mean", 0.0)
    for cls in (GRPOConfig, GiGPOConfig, TrainerConfig):
        assert all(f.default is not dataclasses.MISSING for f in dataclasses.fields(cls))


def test_importing_algos_is_light():
    # the CLI imports the configs; torch and scipy.signal load only when a loss, trainer or return runs
    code = "import sys, hiergym.algos; print([m for m in ('torch', 'transformers', 'scipy.signal') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
