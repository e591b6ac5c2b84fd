"""SokobanEnv: rewards, action flags, truncation, observations, render modes, bad input, play CLI."""

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hiergym  # noqa: F401  (registers the ids)
from hiergym.envs.sokoban import Level, SokobanEnv
from hiergym.envs.sokoban.env import NOTHING_HAPPENS, UNKNOWN_COMMAND
from hiergym.envs.sokoban.render import TILE_SIZE
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.play import play_text_env

# two targets: one under the box next to the player, one two cells right of it
TWO_BOX_LEVEL = "#######\n#P*_O_#\n#_____#\n#__X__#\n#######"
ONE_BOX_LEVEL = "#######\n#_____#\n#P_XO_#\n#_____#\n#######"
DIM = (5, 7)


def make_env(level: str = TWO_BOX_LEVEL, **kwargs) -> tuple[SokobanEnv, object, dict]:
    n_boxes = Level.from_text(level).boxes.__len__()
    env = SokobanEnv(dim_room=DIM, num_boxes=n_boxes, **kwargs)
    obs, info = env.reset(seed=0, options={"level": level})
    return env, obs, info


def test_push_off_target_then_onto_target_rewards():
    env, obs, info = make_env()
    assert obs == TWO_BOX_LEVEL and info[InfoKeys.SUBGOALS_ACHIEVED] == ["box_on_target_1_2"]
    _, reward, terminated, _, info = env.step("right")  # box leaves the target under it
    assert reward == pytest.approx(-0.1 - 1.0) and not terminated
    _, reward, terminated, _, info = env.step("right")  # and lands on the next target
    assert reward == pytest.approx(-0.1 + 1.0) and not terminated
    assert info[InfoKeys.SUBGOALS_ACHIEVED] == ["box_on_target_1_2", "box_on_target_1_4"]


def test_solving_step_pays_bonus_and_terminates():
    env, _, info = make_env(ONE_BOX_LEVEL)
    assert info[InfoKeys.OPTIMAL_LENGTH] == 2 and env.solution == ["right", "right"]
    _, reward, terminated, truncated, _ = env.step("right")
    assert reward == pytest.approx(-0.1) and not terminated
    obs, reward, terminated, truncated, info = env.step("right")
    assert reward == pytest.approx(-0.1 + 1.0 + 10.0)
    assert terminated and not truncated and info[InfoKeys.WON]
    assert "*" in obs and "X" not in obs


def test_blocked_move_is_valid_but_ineffective():
    env, _, info = make_env()
    anchor = info[InfoKeys.ANCHOR_STATE]
    obs, reward, _, _, info = env.step("up")  # wall above the player
    assert reward == pytest.approx(-0.1)
    assert info[InfoKeys.ACTION_FORMAT_OK] and info[InfoKeys.ACTION_ADMISSIBLE] and info[InfoKeys.ACTION_VALID]
    assert not info[InfoKeys.ACTION_EFFECTIVE]
    assert obs.endswith("\n" + NOTHING_HAPPENS) and info[InfoKeys.ANCHOR_STATE] == anchor
    env.step("right")
    env.step("right")  # box now on (1, 4) with a free cell behind: push it once more
    env.step("right")
    _, _, _, _, info = env.step("right")  # box against the wall: cannot move
    assert not info[InfoKeys.ACTION_EFFECTIVE] and info[InfoKeys.ACTION_VALID]


@pytest.mark.parametrize("action", ["jump", "", "   ", "upp", "go up", None, 3, 2.5, ["up"], {"a": 1}, b"\xff\xfe"])
def test_invalid_action_changes_nothing_and_costs_the_penalty(action):
    env, obs0, info0 = make_env(invalid_action_penalty=-0.5)
    obs, reward, terminated, truncated, info = env.step(action)
    assert reward == -0.5 and not terminated and not truncated
    assert not info[InfoKeys.ACTION_FORMAT_OK] and not info[InfoKeys.ACTION_ADMISSIBLE]
    assert not info[InfoKeys.ACTION_VALID] and not info[InfoKeys.ACTION_EFFECTIVE]
    assert obs == obs0 + "\n" + UNKNOWN_COMMAND
    assert info[InfoKeys.ANCHOR_STATE] == info0[InfoKeys.ANCHOR_STATE]


@pytest.mark.parametrize("action", [" RIGHT ", "Right", "right\n", b"right", np.str_("right")])
def test_commands_are_case_and_whitespace_tolerant(action):
    env, _, _ = make_env()
    _, _, _, _, info = env.step(action)
    assert info[InfoKeys.ACTION_VALID] and info[InfoKeys.ACTION_EFFECTIVE]


def test_truncation_at_max_steps_counts_every_step():
    env, _, _ = make_env(ONE_BOX_LEVEL, max_steps=3)
    results = [env.step(a)[2:4] for a in ("up", "nonsense", "left")]
    assert results == [(False, False), (False, False), (False, True)]


def test_solving_on_the_last_allowed_step_is_terminated_not_truncated():
    env, _, _ = make_env(ONE_BOX_LEVEL, max_steps=2)
    env.step("right")
    _, _, terminated, truncated, _ = env.step("right")
    assert terminated and not truncated


def test_anchor_state_is_canonical_plain_data():
    env, _, info = make_env()
    assert info[InfoKeys.ANCHOR_STATE] == ((1, 1), ((1, 2), (3, 3)))
    assert all(type(v) is int for pos in (info[InfoKeys.ANCHOR_STATE][0], *info[InfoKeys.ANCHOR_STATE][1]) for v in pos)


def test_subgoals_check_the_unwrapped_env_and_survive_pickling():
    env = gym.make("hiergym/Sokoban-v0", dim_room=DIM, num_boxes=1)
    _, info = env.reset(seed=0, options={"level": ONE_BOX_LEVEL})
    (subgoal,) = info[InfoKeys.SUBGOALS]
    assert subgoal.text == "a box on target at (2, 4)" and subgoal.target == (2, 4)
    assert not subgoal.check(env)  # a wrapped env works: the check unwraps it
    env.step("right")
    _, _, _, _, info = env.step("right")
    assert subgoal.check(env) and info[InfoKeys.SUBGOALS_ACHIEVED] == [subgoal.id]
    clone = pickle.loads(pickle.dumps(info))  # async vector envs ship info between processes
    assert clone[InfoKeys.SUBGOALS][0].check(env.unwrapped)


def test_subgoals_follow_the_optimal_solution_order():
    # right box first: 2 pushes, walk back 3, 2 pushes = 7; left box first would take 8
    level = "##########\n#________#\n#O_X_PX_O#\n#________#\n##########"
    env = SokobanEnv(dim_room=(5, 10), num_boxes=2)
    _, info = env.reset(options={"level": level})
    assert len(env.solution) == 7
    assert [s.id for s in info[InfoKeys.SUBGOALS]] == ["box_on_target_2_8", "box_on_target_2_1"]


def test_rgb_observation_shape_dtype_and_change():
    env, obs, _ = make_env(obs_mode="rgb")
    assert obs.shape == (DIM[0] * TILE_SIZE, DIM[1] * TILE_SIZE, 3) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    moved, *_ = env.step("down")
    assert env.observation_space.contains(moved) and not np.array_equal(moved, obs)
    same, *_ = env.step("nonsense")
    assert np.array_equal(same, moved)


@pytest.mark.parametrize("env_id", ["hiergym/Sokoban-6x6-1box-v0", "hiergym/Sokoban-10x10-3box-v0"])
def test_check_env_in_rgb_mode(env_id):
    from gymnasium.utils.env_checker import check_env

    env = gym.make(env_id, obs_mode="rgb", render_mode="rgb_array")
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=UserWarning)
        check_env(env.unwrapped, skip_render_check=True)


def test_render_modes():
    env, obs, _ = make_env(render_mode="ansi")
    assert env.render() == obs
    env, _, _ = make_env(render_mode="rgb_array")
    frame = env.render()
    assert frame.shape == (DIM[0] * TILE_SIZE, DIM[1] * TILE_SIZE, 3) and frame.dtype == np.uint8
    env, _, _ = make_env(render_mode="human")  # SDL dummy video driver (tests/conftest.py)
    env.step("right")
    assert env.render() is None
    env.close()


def test_observation_text_fits_the_space_in_every_preset():
    for env_id in ("hiergym/Sokoban-6x6-1box-v0", "hiergym/Sokoban-8x8-2box-v0", "hiergym/Sokoban-10x10-3box-v0"):
        env = gym.make(env_id)
        env.reset(seed=1)
        obs, *_ = env.step("garbage")  # the longest observation: grid plus message
        assert env.observation_space.contains(obs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"dim_room": (4, 6)}, "dim_room"),
        ({"dim_room": (6, 60)}, "dim_room"),
        ({"dim_room": "66"}, "dim_room"),
        ({"dim_room": (6.5, 6)}, "dim_room"),
        ({"num_boxes": 5}, "num_boxes"),  # 6x6 has 16 inner cells: at most 4 boxes
        ({"num_boxes": 0}, "num_boxes"),
        ({"num_boxes": True}, "num_boxes"),
        ({"max_steps": 0}, "max_steps"),
        ({"obs_mode": "pixels"}, "obs_mode"),
        ({"render_mode": "rgb"}, "render_mode"),
        ({"invalid_action_penalty": float("nan")}, "invalid_action_penalty"),
        ({"reverse_steps": -1}, "reverse_steps"),
    ],
)
def test_bad_kwargs_raise_env_spec_error_naming_the_argument(kwargs, field):
    with pytest.raises(EnvSpecError) as err:
        SokobanEnv(**kwargs)
    value = next(iter(kwargs.values()))
    assert err.value.field == field and f"{field}={value!r}" in str(err.value) and "allowed" in str(err.value)


def test_given_level_of_wrong_shape_or_bad_text_is_a_typed_error():
    env = SokobanEnv()
    with pytest.raises(EnvSpecError, match="dim_room"):
        env.reset(options={"level": ONE_BOX_LEVEL})
    with pytest.raises(EnvSpecError, match="exactly one player"):
        env.reset(options={"level": "######\n#_XO_#\n######"})


def test_solve_from_the_current_position():
    env, _, _ = make_env(ONE_BOX_LEVEL)
    env.step("up")
    plan = env.solve()
    assert len(plan) == 3  # e.g. down, right, right (push)
    assert [env.step(a)[2] for a in plan] == [False, False, True]


ANY_INPUT = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=20),
    st.integers(),
    st.floats(),
    st.none(),
    st.sampled_from(["up", "DOWN", " left", "right ", "Up\n"]),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(seed=st.integers(0, 5), actions=st.lists(ANY_INPUT, min_size=1, max_size=40))
def test_fuzz_any_input_never_raises_or_corrupts_state(seed, actions):
    """~3,000 random inputs per run: never an exception, never a broken position."""
    env = FUZZ_ENV
    env.reset(seed=seed)
    for action in actions:
        before = env.unwrapped.level
        obs, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(obs)
        after = env.unwrapped.level  # Level validates: boxes/player on floor, counts equal
        if info[InfoKeys.ACTION_EFFECTIVE]:
            assert info[InfoKeys.ACTION_VALID] and after.player != before.player
        else:
            assert after == before and reward == pytest.approx(-0.1)
        assert after.targets == before.targets and np.array_equal(after.walls, before.walls)
        if terminated or truncated:
            break


FUZZ_ENV = gym.make("hiergym/Sokoban-8x8-2box-v0", max_steps=50)


def test_play_cli_with_injected_terminal():
    env = gym.make("hiergym/Sokoban-6x6-1box-v0")
    env.reset(seed=5)
    commands = iter(["look around"] + env.unwrapped.solution)
    lines: list[str] = []
    total = play_text_env("hiergym/Sokoban-6x6-1box-v0", seed=5, read=lambda prompt: next(commands), write=lines.append)
    assert "You won!" in lines
    assert any(UNKNOWN_COMMAND in line for line in lines)
    invalid_penalty = -0.1
    assert total == pytest.approx(invalid_penalty - 0.1 * len(env.unwrapped.solution) + 1.0 + 10.0)


def test_reachable_through_gymnasium_module_prefix():
    env = gym.make("hiergym:hiergym/Sokoban-6x6-1box-v0")
    _, info = env.reset(seed=0)
    assert info[InfoKeys.OPTIMAL_LENGTH] >= 1


def test_text_and_rgb_modes_never_import_pygame():
    import subprocess
    import sys

    code = (
        "import sys, gymnasium as gym, hiergym\n"
        "for mode in ('text', 'rgb'):\n"
        "    env = gym.make('hiergym/Sokoban-v0', obs_mode=mode, render_mode='rgb_array')\n"
        "    env.reset(seed=0); env.step('up'); env.render(); env.close()\n"
        "print('pygame' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
