"""hiergym/MultiHop-v0: hop chains, splits, the expert, bad input, determinism."""

from __future__ import annotations

import re

import gymnasium as gym
import pytest

import hiergym  # noqa: F401  (registers the ids)
from hiergym.envs.research import KnowledgeBase, MultiHopEnv, exact_match, f1_score, normalize_answer
from hiergym.envs.research.questions import SPLITS
from hiergym.envs.research.world import RELATIONS
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys

SMALL = {"kb_size": 60}


@pytest.fixture(scope="module")
def env():
    return MultiHopEnv(**SMALL)


def play(env, actions):
    out = []
    for a in actions:
        out.append(env.step(a))
        if out[-1][2] or out[-1][3]:
            break
    return out


# --------------------------------------------------------------------------- hop chains
@pytest.mark.parametrize("hops", [1, 2, 3, 4])
def test_every_question_follows_its_relation_chain(hops):
    kb = KnowledgeBase.get(0, 60)
    for split in SPLITS:
        questions = kb.questions(split, hops)
        assert questions, f"no {hops}-hop {split} questions"
        for q in questions:
            assert len(q.relations) == hops and len(q.path) == hops + 1
            assert len(set(q.path)) == len(q.path), "a chain revisits an entity"
            for i, rel in enumerate(q.relations):
                assert kb.world.entities[q.path[i]].type == RELATIONS[rel].subject_type
                assert kb.world.facts[(q.path[i], rel)] == q.path[i + 1]
            assert kb.name(q.head) in q.text and q.text.endswith("?")
            # the question and the hop texts name the head only: no intermediate entity, no answer
            for e in q.path[1:]:
                named = re.compile(rf"\b{re.escape(kb.name(e))}\b")
                assert not named.search(q.text)
                assert not any(named.search(t) for t in q.hop_texts)


def test_example_question_reads_as_intended():
    kb = KnowledgeBase.get(0, 60)
    q = next(q for q in kb.questions("train", 3) if q.relations == ("made_by", "founded_by", "born_in"))
    assert q.text == f"In which city was the founder of the company that makes {kb.name(q.head)} born?"


def test_every_fact_is_stated_on_its_subjects_page():
    kb = KnowledgeBase.get(0, 60)
    stated = {}
    for p in kb.world.passages:
        for fact in p.facts:
            stated.setdefault(fact, set()).add(p.doc_id)
    for (subject, rel), obj in kb.world.facts.items():
        assert kb.world.page_of[subject] in stated[(subject, rel)]
        page = kb.document(kb.world.page_of[subject])
        assert kb.name(obj) in kb.document_text(page)


def test_names_are_unique():
    kb = KnowledgeBase.get(0, 200)
    names = [normalize_answer(e.name) for e in kb.world.entities]
    assert len(set(names)) == len(names)


# --------------------------------------------------------------------------- splits
def test_splits_are_disjoint_by_head_entity():
    kb = KnowledgeBase.get(0, 60)
    heads = {s: {q.head for h in (1, 2, 3, 4) for q in kb.questions(s, h)} for s in SPLITS}
    assert heads["train"] and heads["test"]
    assert not heads["train"] & heads["test"]
    assert all(kb.is_test_entity(h) for h in heads["test"])
    for etype in ("person", "company", "product"):
        ids = [e.id for e in kb.world.by_type(etype)]
        share = sum(kb.is_test_entity(i) for i in ids) / len(ids)
        assert share == pytest.approx(0.2, abs=0.02)


def test_env_split_only_asks_its_own_heads():
    train, test = MultiHopEnv(split="train", **SMALL), MultiHopEnv(split="test", **SMALL)
    seen = {"train": set(), "test": set()}
    for seed in range(60):
        for name, e in (("train", train), ("test", test)):
            e.reset(seed=seed)
            seen[name].add(e.question.head)
    assert not seen["train"] & seen["test"]
    assert all(train.kb.is_test_entity(h) for h in seen["test"])


# --------------------------------------------------------------------------- expert
@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize("open_pages", [True, False])
def test_expert_answers_correctly_on_many_seeds(split, open_pages):
    env = MultiHopEnv(split=split, **SMALL)
    for seed in range(150):
        _, info = env.reset(seed=seed)
        plan = env.solve(open_pages=open_pages)
        assert len(plan) == (2 if open_pages else 1) * info["hops"] + 1
        steps = play(env, plan)
        _, reward, terminated, truncated, info = steps[-1]
        assert terminated and not truncated and reward == 1.0 and info[InfoKeys.WON]
        assert info["em"] == 1.0 and info["f1"] == 1.0
        assert all(s[4][InfoKeys.ACTION_VALID] for s in steps)
        assert info[InfoKeys.SUBGOALS_ACHIEVED] == [f"hop{i + 1}" for i in range(info["hops"])], "the expert finds the hops in order"


def test_expert_opens_only_documents_its_search_listed(env):
    for seed in range(40):
        env.reset(seed=seed)
        listed: list[str] = []
        for a in env.solve():
            if a.startswith("open["):
                assert a[5:-1] in listed
            _, _, _, _, info = env.step(a)
            listed = [h[5:-1] for h in info[InfoKeys.ADMISSIBLE_ACTIONS] if h.startswith("open[")]


def test_expert_continues_from_the_current_state(env):
    env.reset(seed=5)
    full = env.solve()
    play(env, full[:2])  # first hop found
    rest = env.solve()
    assert rest == full[2:]
    assert play(env, rest)[-1][1] == 1.0


def test_warm_start_expert_entry_point():
    from hiergym.training.config_files import load_entry_point

    expert = load_entry_point("hiergym.envs.research:multihop_expert", "warm_start.expert")
    env = gym.make("hiergym/MultiHop-v0", **SMALL)
    env.reset(seed=3)
    assert expert(env.unwrapped) == env.unwrapped.solve()


# --------------------------------------------------------------------------- rewards, subgoals
def test_wrong_answer_ends_the_episode_with_zero_reward_and_f1(env):
    env.reset(seed=0)
    gold = env.kb.name(env.question.answer_id)
    _, reward, terminated, truncated, info = env.step(f"answer[{gold} Smith]")
    assert (reward, terminated, truncated, info[InfoKeys.WON]) == (0.0, True, False, False)
    assert info["em"] == 0.0 and 0.0 < info["f1"] < 1.0 and info["gold_answer"] == gold


def test_answer_is_normalised_squad_style(env):
    env.reset(seed=0)
    gold = env.kb.name(env.question.answer_id)
    _, reward, *_ = env.step(f"ANSWER[ The {gold.upper()}. ]")
    assert reward == 1.0


def test_subgoal_checks_agree_with_info(env):
    import pickle

    _, info = env.reset(seed=11)
    assert [sg.check for sg in pickle.loads(pickle.dumps(info[InfoKeys.SUBGOALS]))] == [sg.check for sg in info[InfoKeys.SUBGOALS]]
    for a in env.solve():
        _, _, _, _, info = env.step(a)
        by_check = [sg.id for sg in info[InfoKeys.SUBGOALS] if sg.check(env)]
        assert sorted(by_check) == sorted(info[InfoKeys.SUBGOALS_ACHIEVED])


def test_step_limit_truncates(env):
    env_short = MultiHopEnv(max_steps=3, **SMALL)
    env_short.reset(seed=0)
    steps = play(env_short, ["search[nothing here]"] * 5)
    assert len(steps) == 3 and steps[-1][3] and not steps[-1][2]
    assert "gold_answer" in steps[-1][4]


@pytest.mark.parametrize(
    "action, format_ok",
    [
        ("hello", False),
        ("search[]", False),
        ("search[   ]", False),
        ("answer[]", False),
        ("fly[away]", False),
        ("search[oops", False),
        (42, False),
        (None, False),
        (b"\xff\xfe", False),
        ("open[d99999]", True),
        ("open[../../etc/passwd]", True),
        ("search[!!! ??? ***]", True),
        ("search[the of and]", True),
    ],
)
def test_bad_actions_are_invalid_penalised_and_change_nothing(env, action, format_ok):
    _, info0 = env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step(action)
    assert env.observation_space.contains(obs)
    assert reward == pytest.approx(-0.1) and not terminated and not truncated
    assert info[InfoKeys.ACTION_FORMAT_OK] is format_ok
    assert info[InfoKeys.ACTION_VALID] is False and info[InfoKeys.ACTION_EFFECTIVE] is False
    assert info[InfoKeys.ANCHOR_STATE] == info0[InfoKeys.ANCHOR_STATE]
    assert obs.startswith(("Invalid action", "No document with id", "No results:"))


def test_acting_after_the_end_is_invalid(env):
    env.reset(seed=2)
    env.step("answer[whatever]")
    obs, reward, terminated, _, info = env.step("search[anything]")
    assert "episode is over" in obs and reward == pytest.approx(-0.1) and not info[InfoKeys.ACTION_VALID]


def test_step_before_reset_raises():
    with pytest.raises(gym.error.ResetNeeded):
        MultiHopEnv(**SMALL).step("search[x]")


@pytest.mark.parametrize(
    "kwargs",
    [{"kb_size": 0}, {"split": "dev"}, {"min_hops": 0}, {"max_hops": 5}, {"max_hops": 2, "min_hops": 3}, {"top_k": 0}, {"max_steps": 0}, {"test_fraction": 1.0}, {"test_fraction": "0.2"}, {"kb_size": 1.5}, {"render_mode": "human"}],
)
def test_bad_constructor_arguments_name_the_field(kwargs):
    with pytest.raises(EnvSpecError, match=next(iter(kwargs))):
        MultiHopEnv(**{**SMALL, **kwargs})


def test_question_index_option(env):
    q = env.questions[7]
    env.reset(seed=0, options={"question_index": 7})
    assert env.question == q
    import numpy as np

    env.reset(options={"question_index": np.int64(7)})
    assert env.question == q
    for bad in (len(env.questions), -1, "7", True):
        with pytest.raises(EnvSpecError, match="question_index"):
            env.reset(options={"question_index": bad})


# --------------------------------------------------------------------------- determinism
def _trace(env, seed):
    obs, info = env.reset(seed=seed)
    out = [obs, info[InfoKeys.ANCHOR_STATE]]
    for a in ["search[company]", *info[InfoKeys.ADMISSIBLE_ACTIONS][:1], *env.solve()]:
        obs, r, te, tr, info = env.step(a)
        out.append((obs, r, te, tr, info[InfoKeys.ANCHOR_STATE], info[InfoKeys.ADMISSIBLE_ACTIONS]))
    return out


def test_same_seed_same_episode_across_envs():
    a, b = MultiHopEnv(**SMALL), MultiHopEnv(**SMALL)
    for seed in range(10):
        assert _trace(a, seed) == _trace(b, seed)
    assert len({MultiHopEnv(**SMALL).reset(seed=s)[0] for s in range(10)}) > 5


WORLD_DIGEST = (
    "import hashlib\n"
    "from hiergym.envs.research import KnowledgeBase\n"
    "kb = KnowledgeBase(3, 40)\n"
    "h = hashlib.blake2b('|'.join(p.doc_id + p.text for p in kb.world.passages).encode()).hexdigest()\n"
    "print(h, [p.doc_id for p in kb.search('company founded', 5)])\n"
)


def test_world_is_the_same_in_another_process():
    import subprocess
    import sys

    import os

    here, there = (
        subprocess.run([sys.executable, "-c", WORLD_DIGEST], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": h}).stdout
        for h in ("1", "123")
    )
    assert here == there and len(here) > 64


def test_different_kb_seeds_give_different_worlds():
    a, b = KnowledgeBase(1, 40), KnowledgeBase(2, 40)
    assert [e.name for e in a.world.entities] != [e.name for e in b.world.entities]


# --------------------------------------------------------------------------- scoring
def test_squad_normalisation_and_f1():
    assert normalize_answer("The  Torvex Labs.") == "torvex labs"
    assert exact_match("an Apple", "apple!") == 1.0
    assert exact_match("torvex", "torvex labs") == 0.0
    assert f1_score("torvex", "torvex labs") == pytest.approx(2 / 3)
    assert f1_score("", "") == 1.0 and f1_score("x", "") == 0.0


# --------------------------------------------------------------------------- tools outside the env
def test_run_tool_gives_the_env_observations_without_state(env):
    from hiergym.envs.research import run_tool

    obs, _ = env.reset(seed=4)
    query = env.solve()[0]
    result = run_tool(env.kb, query, env.top_k)
    assert result.admissible and result.call.tool == "search" and result.view is not None
    assert result.observation == env.step(query)[0]
    assert any(fact == (env.question.path[0], env.question.relations[0]) for fact in result.view.facts)
    bad = run_tool(env.kb, "open[nope]", 5)
    assert not bad.admissible and bad.format_ok and bad.observation.startswith("No document")
    assert not run_tool(env.kb, "jump", 5).format_ok
    answer = run_tool(env.kb, "answer[x]", 5)
    assert answer.admissible and answer.view is None


# --------------------------------------------------------------------------- the wrapper stack
def test_llm_wrapper_stack_plays_the_expert():
    """TextActions + SubgoalHooks + AnchorHash over MultiHop: tags parsed, hop segments closed, anchors stable."""
    from hiergym.wrappers import AnchorHash, SubgoalHooks, TextActions

    env = AnchorHash(SubgoalHooks(TextActions(MultiHopEnv(**SMALL)), subgoal_bonus=0.5))
    _, info = env.reset(seed=6)
    hooks = env.env
    hooks.set_subgoal("hop1")
    total, anchors = 0.0, [info[InfoKeys.ANCHOR]]
    for action in env.unwrapped.solve():
        _, reward, terminated, _, info = env.step(f"<think>next hop</think><action>{action}</action>")
        total += reward
        anchors.append(info[InfoKeys.ANCHOR])
        if info.get(InfoKeys.SUBGOAL_DONE) and not terminated:
            pending = [sg.id for sg in info[InfoKeys.SUBGOALS] if sg.id not in info[InfoKeys.SUBGOALS_ACHIEVED]]
            if pending:
                hooks.set_subgoal(pending[0])
    assert info[InfoKeys.WON] and len(set(anchors)) == len(anchors)
    assert [s.achieved for s in hooks.segments] == [True] * info["hops"]
    assert total == pytest.approx(1.0 + 0.5 * info["hops"])
    _, reward, _, _, info = env.step("no tags at all")
    assert not info[InfoKeys.ACTION_FORMAT_OK]


def test_docs_example_is_what_the_default_env_shows():
    """docs/multihop.md quotes seed 0 of the default env: changing the generator must update the page."""
    from pathlib import Path

    env = MultiHopEnv()
    obs, _ = env.reset(seed=0)
    page = (Path(__file__).resolve().parents[2] / "docs" / "multihop.md").read_text()
    assert obs.splitlines()[0] in page
    assert env.step("search[Kribele Kettle]")[0].splitlines()[2] in page
    rest = env.solve()
    assert f"remaining actions: {rest[0]}, {rest[1]}, ..., {rest[-1]}" in page


def test_numpy_integers_are_accepted():
    import numpy as np

    env = MultiHopEnv(kb_size=np.int64(60), max_hops=np.int32(3), top_k=np.int64(4))
    assert env.top_k == 4 and type(env.top_k) is int


def test_a_person_can_play_it_in_the_terminal():
    from hiergym.play import play_text_env

    expert = MultiHopEnv()
    expert.reset(seed=0)
    commands = iter(expert.solve())
    shown: list[str] = []
    assert play_text_env("hiergym/MultiHop-v0", seed=0, read=lambda _: next(commands), write=shown.append) == 1.0
    assert any("Question:" in s for s in shown)
