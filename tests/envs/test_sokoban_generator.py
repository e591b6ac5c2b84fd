"""Generated levels: deterministic per seed, always solvable, optimal length reported truthfully."""

import gymnasium as gym
import numpy as np
import pytest

import hiergym  # noqa: F401  (registers the ids)
from hiergym.envs.sokoban import LevelGenerationError, generate_level
from hiergym.info_keys import InfoKeys

from .test_sokoban_solver import brute_force_length

PRESETS = {
    "hiergym/Sokoban-6x6-1box-v0": 60,
    "hiergym/Sokoban-8x8-2box-v0": 40,
    "hiergym/Sokoban-10x10-3box-v0": 25,
}


@pytest.mark.parametrize(("env_id", "n_seeds"), PRESETS.items())
def test_every_level_is_solved_by_its_solution(env_id, n_seeds):
    env = gym.make(env_id)
    for seed in range(n_seeds):
        obs, info = env.reset(seed=seed)
        solution = env.unwrapped.solution
        assert solution and info[InfoKeys.OPTIMAL_LENGTH] == len(solution), f"seed {seed}"
        assert not info[InfoKeys.WON], f"seed {seed}: level starts solved"
        for i, action in enumerate(solution, 1):
            obs, reward, terminated, truncated, info = env.step(action)
            assert info[InfoKeys.ACTION_EFFECTIVE], f"seed {seed}: solution step {i} ({action}) was blocked"
            assert terminated == (i == len(solution)), f"seed {seed}: solved after {i} of {len(solution)} steps"
        assert info[InfoKeys.WON] and not truncated
    env.close()


@pytest.mark.parametrize(("env_id", "n_seeds"), PRESETS.items())
def test_same_seed_same_level_and_different_seeds_differ(env_id, n_seeds):
    a, b = gym.make(env_id), gym.make(env_id)
    levels = set()
    for seed in range(n_seeds):
        obs_a, info_a = a.reset(seed=seed)
        b.reset(seed=seed + 1000)  # a different history must not matter
        obs_b, info_b = b.reset(seed=seed)
        assert obs_a == obs_b and info_a[InfoKeys.ANCHOR_STATE] == info_b[InfoKeys.ANCHOR_STATE]
        assert a.unwrapped.solution == b.unwrapped.solution
        levels.add(obs_a)
    assert len(levels) >= 0.9 * n_seeds


@pytest.mark.parametrize(("dim_room", "num_boxes", "n_seeds"), [((6, 6), 1, 40), ((8, 8), 2, 15)])
def test_reported_optimal_length_matches_brute_force(dim_room, num_boxes, n_seeds):
    for seed in range(n_seeds):
        generated = generate_level(np.random.default_rng(seed), dim_room, num_boxes)
        assert brute_force_length(generated.level) == len(generated.solution), generated.level.to_text()


def test_generation_uses_only_the_given_generator():
    first = generate_level(np.random.default_rng(7), (8, 8), 2)
    np.random.seed(99)  # global numpy state must not leak in
    second = generate_level(np.random.default_rng(7), (8, 8), 2)
    assert first.level == second.level and first.solution == second.solution


def test_longer_reverse_play_gives_harder_levels():
    def mean_length(reverse_steps):
        return np.mean([len(generate_level(np.random.default_rng(s), (8, 8), 2, reverse_steps=reverse_steps).solution) for s in range(30)])

    assert mean_length(8) < mean_length(120)


def test_impossible_request_raises_a_typed_error(monkeypatch):
    from hiergym.envs.sokoban import generator

    monkeypatch.setattr(generator, "MAX_ATTEMPTS", 3)
    with pytest.raises(LevelGenerationError, match="fewer boxes or a larger dim_room"):
        generate_level(np.random.default_rng(0), (6, 6), 1, max_expansions=0)
