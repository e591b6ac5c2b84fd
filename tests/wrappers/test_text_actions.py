import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiergym.error import ConfigError
from hiergym.info_keys import InfoKeys
from hiergym.wrappers import AnchorHash, TextActions, parse_llm_output
from hiergym.wrappers.parsing import MAX_ANSWER_CHARS
from tests.fixtures_envs import SwitchesEnv


@pytest.mark.parametrize(
    "text, action, think, switch, subgoal",
    [
        ("<action>flip 1</action>", "flip 1", None, None, None),
        ("<think>switch 1 is off</think>\n<action>  Flip   1 </action>", "Flip 1", "switch 1 is off", None, None),
        ("<THINK>x</THINK><Action>wait</Action>", "wait", "x", None, None),
        ("<switch>keep</switch><action>wait</action>", "wait", None, "KEEP", None),
        ("<switch>SWITCH</switch><subgoal>turn on switch 2</subgoal><action>flip 2</action>", "flip 2", None, "SWITCH", "turn on switch 2"),
        ("<action>flip 0</action><action>flip 1</action>", "flip 0", None, None, None),
    ],
)
def test_parser_reads_tags(text, action, think, switch, subgoal):
    p = parse_llm_output(text)
    assert (p.format_ok, p.action, p.think, p.switch, p.subgoal) == (True, action, think, switch, subgoal)
    assert p.error is None


@pytest.mark.parametrize(
    "text, why",
    [
        ("", "no <action>"),
        ("flip 1", "no <action>"),
        ("<action>flip 1", "not closed"),
        ("<action>   </action>", "empty"),
        ("<switch>MAYBE</switch><action>wait</action>", "KEEP or SWITCH"),
        ("<switch>KEEP<action>wait</action>", "<switch> tag is not closed"),
        ("<subgoal>x<action>wait</action>", "<subgoal> tag is not closed"),
        ("<action>" + "a" * 600 + "</action>", "longer than"),
        (None, "expected text"),
        (12, "expected text"),
    ],
)
def test_parser_flags_garbage(text, why):
    p = parse_llm_output(text)
    assert not p.format_ok and p.action is None and why in p.error


def test_tags_fold_case_like_the_regex_for_non_ascii_text():
    # "\u212a" (Kelvin sign) folds to k and "\u017f" (long s) to s, as re.IGNORECASE does; the ASCII
    # shortcut must not change what a non-ASCII answer means.
    p = parse_llm_output("<thin\u212a>hm</thin\u212a><action>wait</action> \u00e9")
    assert (p.format_ok, p.action, p.think) == (True, "wait", "hm")
    assert "<switch> tag is not closed" in parse_llm_output("<\u017fwitch>KEEP <action>wait</action>").error
    assert parse_llm_output("<SWITCH>keep</SWITCH><ACTION>wait</ACTION>").switch == "KEEP"


def test_bare_text_allowed_without_required_tags():
    assert parse_llm_output("  flip 1 ", require_tags=False).action == "flip 1"
    assert parse_llm_output("<think>hm</think> wait", require_tags=False).action == "wait"
    assert not parse_llm_output("<think>hm</think>", require_tags=False).format_ok


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=50), st.builds(lambda a, b: f"<action>{a}</action>{b}", st.text(max_size=30), st.text(max_size=30))))
def test_parser_never_raises(text):
    p = parse_llm_output(text)
    assert p.format_ok == (p.action is not None)


def test_valid_answer_reaches_env():
    env = TextActions(AnchorHash(SwitchesEnv(n=2)))
    env.reset(seed=3)
    before = list(env.unwrapped.on)
    _, _, _, _, info = env.step("<think>t</think><action>flip 0</action>")
    assert env.unwrapped.on[0] != before[0]
    assert info[InfoKeys.ACTION_VALID] and info[InfoKeys.ACTION_FORMAT_OK]
    assert info[InfoKeys.PARSED_ACTION] == "flip 0" and info[InfoKeys.THINK] == "t" and info[InfoKeys.PARSE_ERROR] is None


def test_malformed_answer_is_penalised_invalid_action_without_state_change():
    env = TextActions(SwitchesEnv(n=2, max_steps=3), format_penalty=-0.5)
    env.reset(seed=3)
    before = list(env.unwrapped.on)
    obs, reward, term, trunc, info = env.step("I think I will flip switch 0")
    assert env.unwrapped.on == before
    assert reward == pytest.approx(-0.1 - 0.5)
    assert obs.startswith("Invalid answer: no <action>")
    assert not info[InfoKeys.ACTION_FORMAT_OK] and not info[InfoKeys.ACTION_VALID]
    assert info[InfoKeys.RAW_ACTION] == "I think I will flip switch 0" and info[InfoKeys.PARSED_ACTION] is None
    env.step("")
    *_, trunc, _ = env.step("<action>")  # the step still counts toward the time limit
    assert trunc


def test_format_penalty_must_be_non_positive():
    with pytest.raises(ConfigError, match="format_penalty=0.3"):
        TextActions(SwitchesEnv(), format_penalty=0.3)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=10))
def test_random_answers_never_raise_or_corrupt_state(answers):
    env = TextActions(SwitchesEnv(n=3, max_steps=100))
    env.reset(seed=0)
    for a in answers:
        expected = list(env.unwrapped.on)
        p = parse_llm_output(a)
        words = (p.action or "").lower().split()
        if p.format_ok and len(words) == 2 and words[0] == "flip" and words[1] in {"0", "1", "2"}:
            expected[int(words[1])] = not expected[int(words[1])]
        *_, term, _, _ = env.step(a)
        assert env.unwrapped.on == expected
        if term:
            break


_REF_TAG = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.DOTALL | re.IGNORECASE) for name in ("think", "action", "switch", "subgoal")}


def _regex_reference(text: str, require_tags: bool) -> tuple:
    """The parser's meaning written with plain (quadratic) regexes: the linear parser must agree."""

    def first(name):
        m = _REF_TAG[name].search(text)
        return " ".join(m.group(1).split()) if m else None

    def opens(name):
        return re.search(f"<{name}>", text, re.IGNORECASE) is not None

    think, subgoal, switch = first("think"), first("subgoal"), first("switch")
    if switch is not None:
        switch = switch.upper()
        if switch not in ("KEEP", "SWITCH"):
            return (None, False, think, None, subgoal)
    elif opens("switch"):
        return (None, False, think, None, subgoal)
    if subgoal is None and opens("subgoal"):
        return (None, False, think, switch, subgoal)
    action = first("action")
    if action is None:
        if opens("action") or require_tags:
            return (None, False, think, switch, subgoal)
        action = " ".join(_REF_TAG["think"].sub(" ", text).split())
    if not action or len(action) > 512:
        return (None, False, think, switch, subgoal)
    return (action, True, think, switch, subgoal)


_SOUP = st.lists(
    st.sampled_from(["<think>", "</think>", "<action>", "</ACTION>", "<Switch>", "</switch>", "<subgoal>", "</subgoal>",
                     "keep", "SWITCH", " ", "\n", "x", "flip 1", "\u212a", "<thin\u212a>", "</thin\u212a>", "<\u017fwitch>", "<", "/", ">"]),
    max_size=14,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(_SOUP, st.booleans())
def test_linear_parser_means_what_the_regexes_mean(text, require_tags):
    p = parse_llm_output(text, require_tags=require_tags)
    assert (p.action, p.format_ok, p.think, p.switch, p.subgoal) == _regex_reference(text, require_tags)


def _best_time(text: str, require_tags: bool, calls: int) -> float:
    best = float("inf")
    for _ in range(calls):
        start = time.perf_counter()
        parse_llm_output(text, require_tags=require_tags)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("unit, require_tags", [("<action>", True), ("<think>", False), ("<subgoal><switch>", True), ("<think></action>", False)])
def test_parse_time_at_most_roughly_doubles_when_the_answer_doubles(unit, require_tags):
    # Unclosed tags repeated made the old regex parser quadratic (ratio ~4 per doubling: 3 s at
    # 80 KB, 11 s at 160 KB). Best-of-N single calls, sizes interleaved, so load on a shared
    # machine affects every size alike; a ratio of 3 leaves room for noise but not for n^2.
    sizes = (MAX_ANSWER_CHARS // 4, MAX_ANSWER_CHARS // 2, MAX_ANSWER_CHARS)
    texts = [unit * (n // len(unit)) for n in sizes]
    best = [float("inf")] * len(texts)
    for _ in range(5):
        for i, text in enumerate(texts):
            best[i] = min(best[i], _best_time(text, require_tags, calls=8))
    ratios = [b / a for a, b in zip(best, best[1:])]
    assert all(r < 3.0 for r in ratios), (best, ratios)
    assert best[-1] < 0.1  # the longest accepted answer parses in well under a step's time


def test_over_long_answer_is_a_malformed_answer_with_the_usual_penalty():
    text = "<action>flip 0</action>" + " " * MAX_ANSWER_CHARS
    p = parse_llm_output(text)
    assert not p.format_ok and p.action is None and f"longer than {MAX_ANSWER_CHARS}" in p.error
    assert parse_llm_output(text[:MAX_ANSWER_CHARS]).action == "flip 0"
    assert not parse_llm_output(text.encode()).format_ok  # bytes are measured after decoding
    env = TextActions(SwitchesEnv(n=2, max_steps=3), format_penalty=-0.5)
    env.reset(seed=3)
    before = list(env.unwrapped.on)
    obs, reward, *_, info = env.step(text)
    assert env.unwrapped.on == before and reward == pytest.approx(-0.1 - 0.5)
    assert not info[InfoKeys.ACTION_FORMAT_OK] and "longer than" in info[InfoKeys.PARSE_ERROR]
