"""TextWorldEnv: subgoals from the walkthrough, order-independent anchors, invalid commands, seeding, play."""

import os
import tempfile

import gymnasium
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("textworld")

import hiergym
from hiergym.envs.common import INVALID_ACTION_PENALTY
from hiergym.envs.tw.env import TextWorldEnv
from hiergym.envs.tw.games import GameKey, ensure_game
from hiergym.envs.tw.sandbox import PRIVATE_DIR_PREFIX
from hiergym.envs.tw.text import DICTIONARY_WORD_ZCHARS, META_COMMAND_FEEDBACK, META_VERBS, dictionary_form
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.play import play_text_env

# The same small games as FAST_KWARGS in test_env_checker.py, so the session cache makes each once.
SMALL = {
    "simple": ("tw-simple", {}),
    "cooking": ("tw-cooking", {"go": 1}),
    "treasure": ("tw-treasure_hunter", {"level": 1}),
    "coin": ("tw-coin_collector", {"level": 1}),
}


def small_env(name="simple", **kwargs):
    challenge, settings_ = SMALL[name]
    return TextWorldEnv(challenge, num_games=1, **settings_, **kwargs)


@pytest.fixture(scope="module")
def simple_env():
    env = small_env()
    yield env
    env.close()


def _walkthrough(game_path):
    import textworld

    return textworld.Game.load(str(game_path.with_suffix(".json"))).metadata["walkthrough"]


@pytest.mark.parametrize("name", list(SMALL))
def test_following_the_subgoals_wins_and_achieves_them_all_in_order(name):
    env = small_env(name)
    obs, info = env.reset(seed=0)
    subgoals = info[InfoKeys.SUBGOALS]
    assert subgoals and info[InfoKeys.SUBGOALS_ACHIEVED] == [] and info[InfoKeys.TASK]
    for k, goal in enumerate(subgoals):
        assert not goal.check(env)
        obs, reward, terminated, truncated, info = env.step(goal.text)
        assert info[InfoKeys.SUBGOALS_ACHIEVED] == [g.id for g in subgoals[: k + 1]]
        assert goal.check(env) and info[InfoKeys.ACTION_VALID]
    assert terminated and not truncated and info[InfoKeys.WON]
    assert info[InfoKeys.SCORE] == info[InfoKeys.MAX_SCORE] > 0
    env.close()


def test_the_games_own_walkthrough_achieves_every_subgoal_in_order(simple_env):
    _, info = simple_env.reset(seed=0)
    achieved_along_the_way = []
    for command in _walkthrough(simple_env.game_path):
        _, _, terminated, _, info = simple_env.step(command)
        achieved_along_the_way.append(list(info[InfoKeys.SUBGOALS_ACHIEVED]))
    assert terminated and info[InfoKeys.WON]
    assert info[InfoKeys.SUBGOALS_ACHIEVED] == [g.id for g in info[InfoKeys.SUBGOALS]]
    assert all(a == b[: len(a)] for a, b in zip(achieved_along_the_way, achieved_along_the_way[1:]))


def test_subgoal_text_and_target_are_readable_and_checkable(simple_env):
    _, info = simple_env.reset(seed=0)
    goal = info[InfoKeys.SUBGOALS][0]
    assert goal.text in info[InfoKeys.ADMISSIBLE_ACTIONS]
    assert goal.target and all("(" in fact for fact in goal.target)
    assert goal.to_dict()["text"] == goal.text


def test_score_delta_is_the_reward_win_bonus_is_added_once_and_the_end_is_final():
    env = small_env("coin", win_bonus=5.0)
    _, info = env.reset(seed=0)
    obs, reward, terminated, _, info = env.step(info[InfoKeys.SUBGOALS][-1].text)
    assert terminated and reward == 1.0 + 5.0
    for command in ("look", "restart", "take coin"):  # after the end nothing changes and nothing is paid
        assert env.step(command)[:3] == (obs, 0.0, True)
    assert env.step("look")[4][InfoKeys.WON]
    env.close()


def _anchor_after(env, commands):
    _, info = env.reset(seed=0)
    for command in commands:
        _, _, _, _, info = env.step(command)
        assert info[InfoKeys.ACTION_EFFECTIVE], command
    return info[InfoKeys.ANCHOR_STATE]


def test_same_state_by_different_command_orders_has_the_same_anchor(simple_env):
    _, info = simple_env.reset(seed=0)
    openers = [c for c in info[InfoKeys.ADMISSIBLE_ACTIONS] if c.startswith("open ")][:2]
    assert len(openers) == 2, info[InfoKeys.ADMISSIBLE_ACTIONS]
    start = info[InfoKeys.ANCHOR_STATE]
    forward = _anchor_after(simple_env, openers)
    backward = _anchor_after(simple_env, openers[::-1])
    assert forward == backward != start
    assert _anchor_after(simple_env, openers[:1]) not in (start, forward)
    hash(forward)  # anchors must be hashable to group steps


def test_looking_around_does_not_change_the_anchor(simple_env):
    _, info = simple_env.reset(seed=0)
    _, reward, _, _, after = simple_env.step("look")
    assert after[InfoKeys.ANCHOR_STATE] == info[InfoKeys.ANCHOR_STATE]
    assert after[InfoKeys.ACTION_VALID] and not after[InfoKeys.ACTION_EFFECTIVE] and reward == 0.0


def test_anchor_state_object_is_kept_while_the_facts_stand(simple_env):
    # AnchorHash reuses its digest for the very same object; a changed state must be a new one.
    _, info = simple_env.reset(seed=0)
    opener = next(c for c in info[InfoKeys.ADMISSIBLE_ACTIONS] if c.startswith("open "))
    looked = simple_env.step("look")[-1]
    assert looked[InfoKeys.ANCHOR_STATE] is info[InfoKeys.ANCHOR_STATE]
    opened = simple_env.step(opener)[-1]
    assert opened[InfoKeys.ANCHOR_STATE] != info[InfoKeys.ANCHOR_STATE]
    assert opened[InfoKeys.ANCHOR_STATE] == tuple(sorted(simple_env.true_facts))
    assert simple_env.reset(seed=0)[1][InfoKeys.ANCHOR_STATE] == info[InfoKeys.ANCHOR_STATE]


@pytest.mark.parametrize(
    "command, feedback, format_ok",
    [
        ("xyzzy", "not a verb", True),
        ("restart", "not available", True),
        ("UNDO", "not available", True),
        ("tw-trace-actions", "not available", True),
        ("open a. open b", "One command", True),
        ("", "pardon", False),
        (None, "pardon", False),
        (42, "pardon", False),
    ],
)
def test_invalid_commands_get_feedback_penalty_and_no_state_change(simple_env, command, feedback, format_ok):
    _, info = simple_env.reset(seed=0)
    obs, reward, terminated, truncated, after = simple_env.step(command)
    assert feedback in obs
    assert reward == pytest.approx(INVALID_ACTION_PENALTY)
    assert not (terminated or truncated)
    assert after[InfoKeys.ANCHOR_STATE] == info[InfoKeys.ANCHOR_STATE]
    assert after[InfoKeys.ACTION_FORMAT_OK] is format_ok and not after[InfoKeys.ACTION_VALID]
    obs, _, _, _, later = simple_env.step(info[InfoKeys.SUBGOALS][0].text)  # the game still listens
    assert later[InfoKeys.ACTION_EFFECTIVE]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=st.lists(st.text(min_size=0, max_size=40), min_size=1, max_size=4))
def test_fuzzed_commands_never_raise_and_stay_in_the_spaces(simple_env, commands):
    _, info = simple_env.reset(seed=0)
    for command in commands:
        obs, reward, terminated, truncated, info = simple_env.step(command)
        assert simple_env.observation_space.contains(obs)
        assert isinstance(reward, float) and isinstance(info[InfoKeys.ACTION_VALID], bool)
        if not info[InfoKeys.ACTION_VALID]:
            assert reward == pytest.approx(INVALID_ACTION_PENALTY)


def test_truncated_after_max_steps():
    env = small_env(max_steps=2)
    env.reset(seed=0)
    assert env.step("look")[3] is False
    _, _, terminated, truncated, _ = env.step("look")
    assert truncated and not terminated
    env.close()


def test_seed_picks_the_game_from_game_files_deterministically(simple_env):
    files = [str(ensure_game(GameKey.of(ch, s, 0))) for ch, s in (SMALL["simple"], SMALL["coin"])]
    env = TextWorldEnv(game_files=files)
    picks = {seed: env.reset(seed=seed)[0] for seed in range(6)}
    assert len(set(picks.values())) == 2, "six seeds should reach both games"
    assert all(env.reset(seed=seed)[0] == obs for seed, obs in picks.items())
    env.close()


def test_observation_parts_are_configurable():
    env = small_env("coin", obs_parts=("feedback", "inventory"))
    _, _ = env.reset(seed=0)
    obs, *_ = env.step("take coin")
    assert "You pick up the coin" in obs and "carrying" in obs
    env.close()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"challenge": "tw-simple", "level": 3}, "level"),
        ({"num_games": 0}, "num_games"),
        ({"obs_parts": ("feedback", "smell")}, "obs_parts"),
        ({"max_steps": 0}, "max_steps"),
        ({"game_files": ["/nonexistent/game.z8"]}, "game_files"),
        ({"game_files": [], "challenge": "tw-simple"}, "game_files"),
        ({"render_mode": "human"}, "render_mode"),
    ],
)
def test_bad_arguments_raise_typed_errors_at_construction(kwargs, field):
    with pytest.raises(EnvSpecError, match=field):
        TextWorldEnv(**kwargs)


def test_registered_presets_make_and_play_in_the_terminal(monkeypatch):
    spec = gymnasium.registry["hiergym/TextWorld-Simple-v0"]
    monkeypatch.setitem(spec.kwargs, "num_games", 1)
    env = hiergym.make("hiergym/TextWorld-Simple-v0")
    _, info = env.reset(seed=0)
    commands = iter([g.text for g in info[InfoKeys.SUBGOALS]])
    env.close()
    shown = []
    total = play_text_env("hiergym/TextWorld-Simple-v0", seed=0, read=lambda prompt: next(commands), write=shown.append)
    assert total == info[InfoKeys.MAX_SCORE]
    assert "You won!" in shown[-1] and "actions: " in shown[0]


# --- interpreter meta commands: refused as the game's parser reads them, and no file written anywhere ---


def _meta_variants() -> list[str]:
    """Each meta verb as typed, shouted, with words after it, and (for words the parser cuts) longer."""
    variants = set()
    for verb in META_VERBS:
        variants |= {verb, verb.upper(), f"{verb} on", f"{verb} game"}
        form = dictionary_form(verb)
        if form != verb or len(form) == DICTIONARY_WORD_ZCHARS:  # the parser reads only `form`
            variants |= {form, form + "zz", form + "s", form + "xyz", verb + "s", verb + "xyz"}
    return sorted(variants)


def _files_under(*dirs):
    return {p for d in dirs if d is not None and d.exists() for p in d.rglob("*") if p.is_file()}


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch):
    """A fresh current directory and a fresh system temp dir, so any file written is seen."""
    cwd, tmp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    return cwd, tmp


@pytest.mark.parametrize("word, form", [("transcriptxyz", "transcrip"), ("transcripts", "transcrip"), ("transcripzz", "transcrip"),
                                        ("transcrip", "transcrip"), ("save", "save"), ("superbriefly", "superbrie"),
                                        ("tw-extra-infos", "tw-extra"), ("print_state", "print_st"), ("o'clock", "o'clock")])
def test_words_are_cut_like_the_games_dictionary(word, form):
    assert dictionary_form(word) == form


def test_every_meta_verb_and_its_variants_is_refused_and_writes_no_file(isolated_dirs):
    cwd, tmp = isolated_dirs
    env = small_env()
    _, info = env.reset(seed=0)
    game_dir = env.game_path.parent
    game_files_before = _files_under(game_dir)
    variants = _meta_variants()
    assert {"transcriptxyz", "transcripts", "transcripzz", "script on", "save", "q", "oops", "g"} <= set(variants)
    for command in variants:
        obs, reward, terminated, _, after = env.step(command)
        assert META_COMMAND_FEEDBACK in obs, command
        assert reward == pytest.approx(INVALID_ACTION_PENALTY) and not after[InfoKeys.ACTION_VALID], command
        assert not terminated and after[InfoKeys.ANCHOR_STATE] == info[InfoKeys.ANCHOR_STATE], command
    env.step("look")  # an open transcript would log this
    assert _files_under(cwd, tmp) == set()
    assert _files_under(game_dir) == game_files_before
    env.close()


def test_anything_the_interpreter_writes_stays_in_a_private_dir_removed_on_close(isolated_dirs, monkeypatch):
    # Second line of defence: let file-writing commands through the screen and see where files go.
    import hiergym.envs.tw.env as tw_env

    cwd, tmp = isolated_dirs
    env = small_env()
    env.reset(seed=0)
    game_dir = env.game_path.parent
    game_files_before = _files_under(game_dir)
    monkeypatch.setattr(tw_env, "refusal", lambda command: None)
    for command in ("transcriptxyz", "look", "save"):
        env.step(command)
    private = env._private_dir.path
    assert private is not None and private.parent == tmp and private.name.startswith(PRIVATE_DIR_PREFIX)
    written = _files_under(cwd, tmp)
    assert written and all(private in p.parents for p in written)  # the transcript and the save file
    assert _files_under(game_dir) == game_files_before
    assert os.getcwd() == str(cwd)
    env.close()
    assert not private.exists() and _files_under(cwd, tmp) == set()
