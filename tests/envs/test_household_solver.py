"""The expert planner is optimal (checked against brute-force BFS) and its plans win every task type."""

import numpy as np
import pytest

from hiergym.envs.household import TASK_TYPES, HouseholdEnv, Task, bfs_plan, expert_plan
from hiergym.envs.household.world import World
from hiergym.types import group_id_of

KITCHEN_ONLY = ("pick_heat_then_place", "pick_cool_then_place")  # the smallest kitchen has 7 receptacles


def _small_env(task_type: str, seed: int) -> HouseholdEnv:
    size = 7 if task_type in KITCHEN_ONLY else 5
    env = HouseholdEnv(task_types=[task_type], num_receptacles=size, num_distractors=1)
    env.reset(seed=seed)
    return env


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_expert_plan_length_equals_brute_force_bfs(task_type):
    for seed in range(2):
        env = _small_env(task_type, seed)
        plan, brute = expert_plan(env.world, env.task), bfs_plan(env.world, env.task)
        assert brute is not None and len(plan) == len(brute), (env.task, plan, brute)


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_expert_plan_is_optimal_from_mid_episode_states(task_type):
    """After random legal commands (a held task object, open doors, treated objects), still as short as BFS."""
    rng = np.random.default_rng(7)
    env = _small_env(task_type, 11)
    checked = 0
    for _ in range(40):
        world = env.world.copy()
        for _ in range(int(rng.integers(1, 6))):
            commands = world.admissible_commands()
            world.step(commands[int(rng.integers(len(commands)))])
        if env.task.won(world) or (world.holding and not world.holding.startswith(env.task.obj + " ")):
            continue  # hand full of something else: expert_plan defers to BFS anyway
        plan, brute = expert_plan(world, env.task), bfs_plan(world, env.task)
        assert len(plan) == len(brute), (world.anchor(), plan, brute)
        checked += 1
        if checked == 3:
            break
    assert checked == 3


@pytest.mark.slow
@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_expert_plan_optimal_on_many_small_rooms(task_type):
    for seed in range(2, 12):
        env = _small_env(task_type, seed)
        assert len(expert_plan(env.world, env.task)) == len(bfs_plan(env.world, env.task))


def test_hand_computed_plan_for_object_in_closed_fridge():
    world = World({"countertop 1": 1, "fridge 1": 2, "cabinet 1": 3}, {"apple 1": "fridge 1"})
    task = Task("pick_cool_then_place", "apple", "cabinet")
    assert expert_plan(world, task) == [
        "go to fridge 1", "open fridge 1", "take apple 1 from fridge 1", "cool apple 1 with fridge 1",
        "go to cabinet 1", "open cabinet 1", "put apple 1 in/on cabinet 1",
    ]


def test_planner_picks_the_cheaper_instance_and_target():
    """apple 1 behind a door, apple 2 on an open countertop; cabinet closed, shelf open: 4 steps, not 6."""
    world = World({"cabinet 1": 1, "countertop 1": 2, "drawer 1": 3, "shelf 1": 4}, {"apple 1": "drawer 1", "apple 2": "countertop 1"})
    plan = expert_plan(world, Task("pick_and_place", "apple", "shelf"))
    assert plan == ["go to countertop 1", "take apple 2 from countertop 1", "go to shelf 1", "put apple 2 in/on shelf 1"]


def test_look_plan_uses_the_lamp_where_the_object_is():
    world = World({"desk 1": 1, "sidetable 1": 2}, {"book 1": "desk 1", "desklamp 1": "desk 1"}, fixed={"desklamp 1"})
    plan = expert_plan(world, Task("look_at_obj_in_light", "book", None))
    assert plan == ["go to desk 1", "take book 1 from desk 1", "use desklamp 1"]


def test_holding_a_distractor_falls_back_to_bfs():
    world = World({"countertop 1": 1, "shelf 1": 2}, {"apple 1": "countertop 1", "mug 1": "countertop 1"})
    world.step("go to countertop 1")
    world.step("take mug 1 from countertop 1")
    plan = expert_plan(world, Task("pick_and_place", "apple", "shelf"))
    assert len(plan) == 4 and plan[0] == "put mug 1 in/on countertop 1"


def test_unwinnable_task_raises_a_clear_error():
    world = World({"countertop 1": 1}, {"apple 1": "countertop 1"})
    with pytest.raises(ValueError, match="no mug"):
        expert_plan(world, Task("pick_and_place", "mug", "countertop"))


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_expert_plan_wins_with_subgoals_in_order(task_type):
    env = HouseholdEnv(task_types=[task_type])
    for seed in range(25):
        obs, info = env.reset(seed=seed)
        plan = expert_plan(env.world, env.task)
        assert len(plan) == info["optimal_length"] > 0
        total = 0.0
        for i, command in enumerate(plan):
            assert command in info["admissible_actions"]
            obs, reward, terminated, truncated, info = env.step(command)
            total += reward
            assert terminated == (i == len(plan) - 1) and not truncated
        assert info["won"] and total == pytest.approx(1.0)
        assert info["subgoals_achieved"] == [sg.id for sg in info["subgoals"]], (env.task, plan)


def test_expert_trajectories_are_successful_serialisable_records(tmp_path):
    import gymnasium as gym

    import hiergym  # noqa: F401
    from hiergym.envs.household import expert_trajectory
    from hiergym.types import Trajectory, load_jsonl, save_jsonl

    env = gym.make("hiergym/Household-PickTwo-v0")
    trajs = [expert_trajectory(env, seed) for seed in range(3)]
    for seed, t in enumerate(trajs):
        assert t.success and t.episode_return == pytest.approx(1.0) and t.group_id == group_id_of("hiergym/Household-PickTwo-v0", seed)
        assert t.turns[0].observation.startswith("-= Welcome to TextWorld, ALFRED! =-")
        assert [turn.subgoal for turn in t.turns if turn.subgoal_done] == ["find_1", "take_1", "put_1", "find_2", "take_2", "put_2"]
        assert t.turns[-1].terminated and all(turn.action_valid for turn in t.turns)
    path = save_jsonl(trajs, tmp_path / "demos.jsonl")
    assert load_jsonl(path) == trajs
    assert isinstance(Trajectory.from_dict(trajs[0].to_dict()), Trajectory)
