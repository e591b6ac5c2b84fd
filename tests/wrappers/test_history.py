import gymnasium as gym
import pytest

from hiergym.error import ConfigError
from hiergym.info_keys import InfoKeys
from hiergym.wrappers import AnchorHash, History, PromptTemplate, SubgoalHooks, TextActions
from tests.fixtures_envs import SwitchesEnv


def test_prompt_has_task_last_k_turns_and_current_observation():
    tmpl = PromptTemplate(header="TASK {task}\n", turn="{step}:{observation}>{action}\n", current="NOW {observation} | {admissible}")
    env = History(TextActions(SwitchesEnv(n=2)), k=2, template=tmpl)
    obs, info = env.reset(seed=0)
    env.unwrapped.on = [False, False]
    assert obs.startswith("TASK Turn on every switch.\nNOW ") and info[InfoKeys.RAW_OBSERVATION] in obs
    env.step("<action>wait</action>")
    env.step("garbage")
    prompt, *_, info = env.step("<action>flip 0</action>")
    lines = prompt.splitlines()
    assert lines[0] == "TASK Turn on every switch."
    assert lines[1] == "1:switches: off off>garbage"  # k=2: step 0 dropped; malformed text recorded as sent
    assert lines[2].startswith("2:Invalid answer: no <action>") and lines[2].endswith(">flip 0")
    assert lines[3] == "NOW switches: on off | flip 0, flip 1, wait"


@pytest.mark.parametrize("k", [0, 1, 3])
def test_prompt_equals_the_template_rendering_clipped(k):
    from hiergym.envs.common import clip_text

    tmpl = PromptTemplate(header="T {task} \u00e9\n", turn="<{step}|{observation}|{action}>\n", current="[{step}] {observation} ({admissible})\x00")
    env = History(TextActions(SwitchesEnv(n=2)), k=k, template=tmpl, max_chars=150)
    obs, info = env.reset(seed=3)
    task, turns, last = info[InfoKeys.TASK], [], info[InfoKeys.RAW_OBSERVATION]
    for t, answer in enumerate(["<action>flip 0</action>", "nonsense \u00e9", "<action>wait</action>", "<action>flip 1</action>"]):
        prompt, *_, info = env.step(answer)
        turns.append((t, last, info[InfoKeys.PARSED_ACTION] or answer))
        last = info[InfoKeys.RAW_OBSERVATION]
        shown = turns[-k:] if k else []
        expected = clip_text(tmpl.render(task, shown, t + 1, last, info[InfoKeys.ADMISSIBLE_ACTIONS]), 150)
        assert prompt == expected and env.observation_space.contains(prompt)


def test_k_zero_shows_only_current():
    env = History(SwitchesEnv(), k=0, template=PromptTemplate(header="", current="{observation}"))
    env.reset(seed=0)
    obs, *_ = env.step("wait")
    assert obs == env.unwrapped._obs()


def test_template_from_file_and_errors(tmp_path):
    f = tmp_path / "t.toml"
    f.write_text('header = "H {task}\\n"\ncurrent = "{observation}"\n')
    assert PromptTemplate.from_file(f).header == "H {task}\n"
    with pytest.raises(ConfigError, match="unknown \\['reward'\\]"):
        PromptTemplate(turn="{reward}")
    with pytest.raises(ConfigError, match="existing"):
        PromptTemplate.from_file(tmp_path / "missing.toml")
    (tmp_path / "bad.json").write_text('{"footer": "x"}')
    with pytest.raises(ConfigError, match="unknown \\['footer'\\]"):
        PromptTemplate.from_file(tmp_path / "bad.json")


def test_rejects_non_text_env():
    with pytest.raises(ConfigError, match="text observations"):
        History(gym.make("CartPole-v1"))


def test_full_stack_composes():
    env = History(SubgoalHooks(TextActions(AnchorHash(SwitchesEnv(n=2)))), k=1)
    obs, info = env.reset(seed=5)
    env.get_wrapper_attr("set_subgoal")("s1")
    obs, r, term, trunc, info = env.step("<action>flip 1</action>")
    assert {InfoKeys.ANCHOR, InfoKeys.SUBGOAL_DONE, InfoKeys.RAW_OBSERVATION, InfoKeys.PARSED_ACTION} <= set(info)
    assert env.observation_space.contains(obs)
