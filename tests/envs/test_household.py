"""HouseholdEnv: rewards, invalid commands, episode end, splits, knobs, determinism, fuzz, play."""

import os
import pickle
import string
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hiergym
from hiergym.envs.common import INVALID_ACTION_PENALTY
from hiergym.envs.household import TASK_TYPES, HouseholdEnv, expert_plan
from hiergym.envs.household.generator import combo_is_unseen, episode_hash_unit, layout_is_unseen, VALID_SEEN_SHARE
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.play import play_text_env


def _layout(env: HouseholdEnv) -> tuple:
    counts: dict[str, int] = {}
    for r in env.episode.receptacles:
        kind = r.rpartition(" ")[0]
        counts[kind] = counts.get(kind, 0) + 1
    return env.episode.room, tuple(sorted(counts.items()))


def _combo(env: HouseholdEnv) -> tuple:
    return env.task.obj, env.task.target or "desklamp"


def test_intro_observation_and_reset_info():
    env = HouseholdEnv()
    obs, info = env.reset(seed=0)
    assert obs.startswith("-= Welcome to TextWorld, ALFRED! =-\n\nYou are in the middle of a room. Looking quickly around you, you see a ")
    assert obs.endswith(f"Your task is to: {info[InfoKeys.TASK]}") and env.observation_space.contains(obs)
    assert info[InfoKeys.WON] is False and info[InfoKeys.SUBGOALS_ACHIEVED] == []
    assert info[InfoKeys.OPTIMAL_LENGTH] == len(expert_plan(env.world, env.task))
    assert all(a.startswith(("go to ", "inventory", "look")) for a in info[InfoKeys.ADMISSIBLE_ACTIONS])


def test_invalid_command_penalty_flags_and_no_state_change():
    env = HouseholdEnv(invalid_action_penalty=-0.5)
    _, info = env.reset(seed=1)
    anchor = info[InfoKeys.ANCHOR_STATE]
    for action, format_ok in (("take the moon", False), ("open cabinet 99", True), (12345, False)):
        obs, reward, terminated, truncated, info = env.step(action)
        assert obs == "Nothing happens." and reward == -0.5 and not terminated and not truncated
        assert info[InfoKeys.ANCHOR_STATE] == anchor
        assert info[InfoKeys.ACTION_FORMAT_OK] is format_ok
        assert info[InfoKeys.ACTION_ADMISSIBLE] is False and info[InfoKeys.ACTION_VALID] is False
        assert info[InfoKeys.ACTION_EFFECTIVE] is False


def test_default_penalty_and_legal_but_ineffective_command():
    env = HouseholdEnv()
    env.reset(seed=2)
    assert env.step("fly away")[1] == INVALID_ACTION_PENALTY
    obs, reward, *_, info = env.step("inventory")
    assert obs == "You are not carrying anything." and reward == 0.0
    assert info[InfoKeys.ACTION_VALID] and not info[InfoKeys.ACTION_EFFECTIVE]


def test_success_reward_and_step_cost_are_configurable():
    env = HouseholdEnv(success_reward=10.0, step_cost=0.01)
    env.reset(seed=3)
    plan = expert_plan(env.world, env.task)
    rewards = [env.step(c)[1] for c in plan]
    assert rewards[:-1] == [pytest.approx(-0.01)] * (len(plan) - 1)
    assert rewards[-1] == pytest.approx(10.0 - 0.01)


def test_truncated_at_max_steps_not_terminated():
    env = HouseholdEnv(max_steps=3)
    env.reset(seed=4)
    flags = [env.step("look")[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (False, True)]


def test_case_and_spacing_are_ignored_and_synonyms_accepted():
    env = HouseholdEnv(task_types=["pick_and_place"])
    plan = []
    for seed in range(50):
        env.reset(seed=seed)
        plan = expert_plan(env.world, env.task)
        if len(plan) == 4:  # go, take, go, put: no doors to open
            break
    go, take, go_target, put = plan
    env.step("  " + go.upper() + "  ")
    env.step(take)
    env.step(go_target)
    obj, target = put.removeprefix("put ").split(" in/on ")
    *_, info = env.step(f"move {obj} to {target}")
    assert info[InfoKeys.WON]


def test_same_seed_same_episode_different_seeds_differ():
    a, b = HouseholdEnv(), HouseholdEnv()
    assert a.reset(seed=9)[0] == b.reset(seed=9)[0]
    assert len({HouseholdEnv().reset(seed=s)[0] for s in range(20)}) == 20


def test_episode_is_identical_across_processes_and_hash_seeds():
    code = (
        "import hiergym, gymnasium as gym\n"
        "env = gym.make('hiergym/Household-v0'); obs, info = env.reset(seed=17); out = [obs, info['anchor_state']]\n"
        "for a in info['admissible_actions'][:5] + ['open cabinet 1', 'look']:\n"
        "    obs, r, te, tr, info = env.step(a); out.append((obs, r, info['anchor_state'], info['admissible_actions']))\n"
        "print(repr(out))\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": s}).stdout
        for s in ("1", "2")
    ]
    assert runs[0] == runs[1] and len(runs[0]) > 100


@pytest.mark.parametrize("task_type", TASK_TYPES)
def test_task_type_mix_is_respected(task_type):
    env = HouseholdEnv(task_types=[task_type])
    for seed in range(10):
        env.reset(seed=seed)
        assert env.task.type == task_type


def test_all_task_types_appear_in_the_default_mix():
    env = HouseholdEnv()
    assert {env.reset(seed=s) and env.task.type for s in range(60)} == set(TASK_TYPES)


def test_num_receptacles_and_num_distractors_knobs():
    env = HouseholdEnv(task_types=["pick_and_place", "look_at_obj_in_light"], num_receptacles=9, num_distractors=5)
    for seed in range(10):
        env.reset(seed=seed)
        assert len(env.episode.receptacles) == 9
        task_objects = [o for o in env.episode.placement if o.rpartition(" ")[0] == env.task.obj]
        assert len(env.episode.placement) - len(task_objects) - len(env.episode.fixed) == 5


def test_no_task_object_starts_in_a_target_receptacle():
    env = HouseholdEnv()
    for seed in range(40):
        env.reset(seed=seed)
        t = env.task
        for o, r in env.episode.placement.items():
            assert not (o.startswith(t.obj + " ") and r.rpartition(" ")[0] == t.target)


def test_splits_are_disjoint():
    def draw(split, n=60):
        env = HouseholdEnv(split=split)
        out = []
        for s in range(n):
            env.reset(seed=s)
            out.append((_layout(env), _combo(env), episode_hash_unit(env.episode)))
        return out

    train, seen, unseen = draw("train"), draw("valid_seen"), draw("valid_unseen")
    train_layouts, train_combos = {x[0] for x in train}, {x[1] for x in train}
    assert not train_layouts & {x[0] for x in unseen}
    assert not train_combos & {x[1] for x in unseen}
    assert {x[0] for x in seen} <= {x[0] for x in train} | {x[0] for x in seen}  # seen layouts are train-kind layouts
    assert all(not layout_is_unseen(x[0][0], dict(x[0][1])) and not combo_is_unseen(*x[1]) for x in train + seen)
    assert all(layout_is_unseen(x[0][0], dict(x[0][1])) and combo_is_unseen(*x[1]) for x in unseen)
    assert all(h >= VALID_SEEN_SHARE for *_, h in train) and all(h < VALID_SEEN_SHARE for *_, h in seen)
    assert len({x[0] for x in seen} & train_layouts) > 0, "valid_seen reuses train layouts"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"task_types": ["pick_and_fly"]}, "task_types"),
        ({"task_types": []}, "task_types"),
        ({"rooms": ["garage"]}, "rooms"),
        ({"split": "test"}, "split"),
        ({"max_steps": 0}, "max_steps"),
        ({"num_distractors": -1}, "num_distractors"),
        ({"num_receptacles": 3}, "num_receptacles"),
        ({"task_types": ["pick_heat_then_place"], "num_receptacles": 6}, "num_receptacles"),
        ({"render_mode": "human"}, "render_mode"),
        ({"task_types": ["pick_heat_then_place"], "rooms": ["bedroom"]}, "rooms"),
        ({"num_distractors": 101}, "num_distractors"),
    ],
)
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(EnvSpecError, match=field) as err:
        HouseholdEnv(**kwargs)
    assert err.value.field == field


def test_impossible_split_raises_typed_error():
    """The only 7-receptacle kitchen is a seen layout, so valid_unseen has no heat task of that size."""
    smallest_kitchen = {k: 1 for k in ("cabinet", "countertop", "fridge", "garbagecan", "microwave", "sinkbasin", "stoveburner")}
    assert not layout_is_unseen("kitchen", smallest_kitchen)
    kwargs = {"task_types": ["pick_heat_then_place"], "num_receptacles": 7, "num_distractors": 0}
    HouseholdEnv(**kwargs).reset(seed=0)
    with pytest.raises(EnvSpecError, match="valid_unseen") as err:
        HouseholdEnv(**kwargs, split="valid_unseen").reset(seed=0)
    assert err.value.field == "split"


def test_subgoals_pickle_and_check_through_wrappers():
    env = gym.make("hiergym/Household-PickClean-v0")
    _, info = env.reset(seed=0)
    restored = pickle.loads(pickle.dumps(info[InfoKeys.SUBGOALS]))
    assert [s.id for s in restored] == ["find", "take", "clean", "put"]
    assert [s.text for s in restored][2].startswith("clean the ")
    assert not any(s.check(env) for s in info[InfoKeys.SUBGOALS])


@pytest.mark.parametrize(
    "name, task_type",
    [
        ("PickPlace", "pick_and_place"),
        ("PickClean", "pick_clean_then_place"),
        ("PickHeat", "pick_heat_then_place"),
        ("PickCool", "pick_cool_then_place"),
        ("LookInLight", "look_at_obj_in_light"),
        ("PickTwo", "pick_two_obj_and_place"),
    ],
)
def test_presets_are_registered_with_their_task_type(name, task_type):
    env = hiergym.make(f"hiergym/Household-{name}-v0")
    for seed in range(3):  # every seed draws a task of the preset's type, and its expert plan wins
        obs, info = env.reset(seed=seed)
        assert env.unwrapped.task.type == task_type
        assert isinstance(obs, str) and info[InfoKeys.TASK] in obs and info[InfoKeys.SUBGOALS]
        for command in env.unwrapped.expert_plan():
            *_, info = env.step(command)
        assert info[InfoKeys.WON]
    env.close()


def test_expert_plan_method_works_from_any_point_through_wrappers():
    env = gym.make("hiergym/Household-PickCool-v0")
    env.reset(seed=6)
    first = env.unwrapped.expert_plan()
    env.step(first[0])
    rest = env.unwrapped.expert_plan()
    assert rest == first[1:]
    for command in rest:
        *_, info = env.step(command)
    assert info[InfoKeys.WON]


def test_play_in_terminal_with_injected_io():
    env = HouseholdEnv()
    env.reset(seed=0)
    commands = iter(expert_plan(env.world, env.task))
    lines: list[str] = []
    total = play_text_env("hiergym/Household-v0", seed=0, read=lambda _: next(commands), write=lines.append)
    assert total == pytest.approx(1.0) and lines[-1] == "You won!"
    assert "Your task is to:" in lines[0] and "actions: " in lines[0]


printable = st.text(alphabet=string.printable, max_size=80)
VOCAB = ["go", "to", "take", "from", "put", "in/on", "in", "on", "open", "close", "clean", "heat", "cool", "with",
         "use", "examine", "move", "look", "inventory", "apple", "1", "2", "cabinet", "fridge", "desklamp", "mug", "0", "-1"]
grammar_like = st.lists(st.sampled_from(VOCAB), max_size=7).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=st.lists(st.one_of(printable, grammar_like), min_size=10, max_size=10))
def test_fuzz_random_strings_never_raise(actions):
    """3000 random strings (printable noise and grammar-like word salad): never an exception."""
    env = _FUZZ_ENV
    for action in actions:
        anchor = env.world.anchor()
        obs, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(obs)
        if not info[InfoKeys.ACTION_VALID]:
            assert obs == "Nothing happens." and reward == INVALID_ACTION_PENALTY
            assert info[InfoKeys.ANCHOR_STATE] == anchor
        if terminated or truncated:
            env.reset(seed=len(action))


def test_fuzz_random_admissible_walks_keep_invariants():
    """Long random walks over admissible commands: each is legal, objects are never lost or duplicated."""
    rng = np.random.default_rng(0)
    env = HouseholdEnv(max_steps=200)
    for seed in range(5):
        _, info = env.reset(seed=seed)
        objects = set(env.episode.placement)
        for _ in range(200):
            actions = info[InfoKeys.ADMISSIBLE_ACTIONS]
            _, _, terminated, truncated, info = env.step(actions[int(rng.integers(len(actions)))])
            assert info[InfoKeys.ACTION_ADMISSIBLE]
            w = env.world
            placed = [o for r, c in w.contents.items() for o in c]
            assert sorted(placed + ([w.holding] if w.holding else [])) == sorted(objects)
            assert all(w.where[o] == r for r, c in w.contents.items() for o in c)
            if terminated or truncated:
                break


_FUZZ_ENV = HouseholdEnv(max_steps=10_000)
_FUZZ_ENV.reset(seed=0)


def test_works_under_the_hierarchical_wrapper_stack():
    """AnchorHash + SubgoalHooks: the expert plan completes each subgoal segment in turn."""
    from hiergym.wrappers import AnchorHash, SubgoalHooks

    env = SubgoalHooks(AnchorHash(gym.make("hiergym/Household-PickHeat-v0")))
    _, info = env.reset(seed=2)
    plan = env.unwrapped.expert_plan()
    subgoal_ids = [sg.id for sg in info[InfoKeys.SUBGOALS]]
    queue = list(subgoal_ids)
    env.set_subgoal(queue.pop(0))
    done_order = []
    for command in plan:
        *_, info = env.step(command)
        assert len(info[InfoKeys.ANCHOR]) > 0
        if info[InfoKeys.SUBGOAL_DONE]:
            done_order.append(info[InfoKeys.SUBGOAL])
            if queue:
                env.set_subgoal(queue.pop(0))
    assert info[InfoKeys.WON] and len(done_order) == len(subgoal_ids)
    assert all(s.achieved for s in env.segments)
