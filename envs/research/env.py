"""``hiergym/MultiHop-v0``: answer multi-hop questions by searching a generated knowledge base."""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from hiergym.envs.common import INVALID_ACTION_PENALTY, MAX_ACTION_CHARS, MAX_OBS_CHARS, TEXT_CHARSET, action_flags, clip_text, text_space
from hiergym.envs.research.actions import ToolCall, parse_action
from hiergym.envs.research.kb import DEFAULT_TEST_FRACTION, KnowledgeBase, View
from hiergym.envs.research.questions import MAX_HOPS, MIN_HOPS, SPLITS, Question, QuestionPool
from hiergym.envs.research.scoring import answer_scores
from hiergym.envs.research.solver import expert_plan
from hiergym.envs.research.tools import ToolResult, run_tool
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.types import Subgoal

DEFAULT_MAX_STEPS = 20
"""Room for the expert's 2 * 4 + 1 = 9 actions on a 4-hop question, and for detours."""
DEFAULT_TOP_K = 5
MAX_TOP_K = 20
MAX_KB_SIZE = 5000
QUESTION_OPTION = "question_index"
"""``reset(options={"question_index": i})`` plays question ``i`` of ``env.questions`` instead of a random one."""

# info keys of this env (beyond hiergym.info_keys.InfoKeys)
INFO_HOPS = "hops"
INFO_QUESTION_KEY = "question_key"
INFO_TOOL = "tool"
INFO_EM = "em"
INFO_F1 = "f1"
INFO_ANSWER = "answer"
INFO_GOLD_ANSWER = "gold_answer"

START, SEARCH, DOCUMENT, ANSWERED = "start", "search", "document", "answered"
"""Pages of the anchor state: what the last observation showed."""


class MultiHopEnv(gym.Env[str, str]):
    """Answer a 2-4 hop question over a generated knowledge base with search, open and answer tools.

    **Description.** A seeded fictional world (``hiergym.envs.research.world``: people,
    companies, products, cities, countries, universities and functional relations between
    them) is written as short documents, one page per entity plus distractor news items, and
    indexed passage by passage in SQLite FTS5. Each episode asks one question built from a
    relation chain, e.g. "In which city was the founder of the company that makes Zorbla Lamp
    born?" (product -made_by-> company -founded_by-> person -born_in-> city). Questions of the
    ``test`` split start from entities no ``train`` question starts from.

    **Action space.** ``Text`` (printable ASCII, up to 512 chars), one tool call:
    ``search[query]`` shows the top ``top_k`` passages (BM25; the query is plain words, FTS5
    syntax is never interpreted), ``open[doc_id]`` shows a whole document,
    ``answer[text]`` submits the answer and ends the episode. Tool names are case-insensitive.

    **Observation space.** ``Text`` (printable ASCII, up to 8192 chars). Reset: the question
    and the tools. Search: ``[doc_id] title: passage`` lines. Open: the document. An invalid
    action: ``Invalid action: <why>. Use search[query], open[doc_id] or answer[text].``

    **Rewards.** ``success_reward`` (default 1) times the normalised exact match (SQuAD) of the
    answer; ``-step_cost`` per step (default 0); ``invalid_action_penalty`` (default -0.1) for a
    malformed action, an unknown document id or a query with no words (the state is then
    unchanged). Token F1 is reported in ``info["f1"]``.

    **Starting state.** A question drawn with ``self.np_random``: the number of hops uniformly
    from ``[min_hops, max_hops]``, then a question of that length of the split uniformly, or
    ``options={"question_index": i}``.

    **Episode end.** ``terminated`` on ``answer[...]`` (``info["won"]`` when it is correct);
    ``truncated`` after ``max_steps`` actions.

    **Info.** ``task`` (the question), ``anchor_state`` (question, page, last query terms,
    document shown, opened documents, hops found), ``subgoals`` (one per hop: "find <the
    entity this hop reaches>", achieved when a search result or a document has shown the
    hop's fact), ``subgoals_achieved``, ``admissible_actions`` (hints: search and answer the
    entities named in the observation, open the documents it lists), ``won``, the action
    flags, ``hops``, ``question_key``, ``tool``; on ``answer``: ``answer``, ``em``, ``f1`` and
    ``gold_answer``, which is also given when the episode is truncated.

    **Arguments.** ``kb_seed`` (0) and ``kb_size`` (200 companies: 1,360 entities, 1,560
    documents) choose the knowledge base, built once per process (``cache_dir``: also keep its
    index on disk); ``split`` (train | test), ``test_fraction`` (0.2 of each entity type held
    out), ``min_hops`` / ``max_hops`` (2 / 4), ``top_k`` (5), ``max_steps`` (20),
    ``success_reward``, ``step_cost``, ``invalid_action_penalty``, ``render_mode`` ("ansi").

    **Version history.** v0: initial release.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        *,
        kb_seed: int = 0,
        kb_size: int = 200,
        split: str = "train",
        test_fraction: float = DEFAULT_TEST_FRACTION,
        min_hops: int = 2,
        max_hops: int = 4,
        top_k: int = DEFAULT_TOP_K,
        max_steps: int = DEFAULT_MAX_STEPS,
        success_reward: float = 1.0,
        step_cost: float = 0.0,
        invalid_action_penalty: float = INVALID_ACTION_PENALTY,
        cache_dir: str | Path | None = None,
        render_mode: str | None = None,
    ):
        _check_int("kb_seed", kb_seed, 0, None)
        _check_int("kb_size", kb_size, 1, MAX_KB_SIZE)
        _check_int("min_hops", min_hops, MIN_HOPS, MAX_HOPS)
        _check_int("max_hops", max_hops, min_hops, MAX_HOPS)
        _check_int("top_k", top_k, 1, MAX_TOP_K)
        _check_int("max_steps", max_steps, 1, None)
        if split not in SPLITS:
            raise EnvSpecError("split", split, f"one of {SPLITS}")
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real) or not 0.0 < test_fraction < 1.0:
            raise EnvSpecError("test_fraction", test_fraction, "a float in (0, 1)")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise EnvSpecError("render_mode", render_mode, f"None or one of {self.metadata['render_modes']}")
        kb_seed, kb_size, min_hops, max_hops, top_k, max_steps = map(int, (kb_seed, kb_size, min_hops, max_hops, top_k, max_steps))
        self.kb = KnowledgeBase.get(kb_seed, kb_size, cache_dir=cache_dir, test_fraction=float(test_fraction))
        self.split, self.min_hops, self.max_hops, self.top_k, self.max_steps = split, min_hops, max_hops, top_k, max_steps
        self.success_reward = float(success_reward)
        self.step_cost = float(step_cost)
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.render_mode = render_mode
        self._pools = {h: self.kb.questions(split, h) for h in range(min_hops, max_hops + 1)}
        empty = [h for h, pool in self._pools.items() if not pool]
        if empty:
            raise EnvSpecError("kb_size", kb_size, f"a larger knowledge base: split {split!r} has no {empty[0]}-hop questions")
        self.observation_space = text_space(MAX_OBS_CHARS)
        self.action_space = text_space(MAX_ACTION_CHARS)
        self.question: Question | None = None

    @property
    def questions(self) -> QuestionPool:
        """Every question this env can ask, by number of hops (``options={"question_index": i}`` indexes it)."""
        pools = [self._pools[h] for h in sorted(self._pools)]
        return sum(pools[1:], pools[0])

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        self.question = self._choose_question(options)
        q = self.question
        self._subgoals = hop_subgoals(q)
        self._hop_facts = {(q.path[i], rel): i for i, rel in enumerate(q.relations)}
        self._found: list[int] = []
        self._page, self._query, self._doc = START, (), None
        self._opened: tuple[str, ...] = ()
        self._steps, self._done, self._won = 0, False, False
        head = self.kb.name(q.head)
        self._head_hint = f"search[{head}]"
        self._view = View("", (), (q.head,), (), (f"answer[{head}]",))
        self._last_obs = (
            f"Question: {q.text}\nTools: search[query] shows the top {self.top_k} passages, "
            "open[doc_id] shows a document, answer[text] submits your answer."
        )
        return self._last_obs, self._info(action_flags(format_ok=True, admissible=True, effective=False), None)

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self.question is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        before = self._anchor()
        extra: dict[str, Any] = {}
        if self._done:
            call = parse_action(action)
            result = ToolResult("The episode is over; call reset().", call if isinstance(call, ToolCall) else None, False)
        else:
            result = run_tool(self.kb, action, self.top_k, example_doc=self._view.listed[0] if self._view.listed else None)
        obs = self._apply(result, extra) if result.admissible else result.observation
        self._steps += 1
        anchor = self._anchor()
        flags = action_flags(format_ok=result.format_ok, admissible=result.admissible, effective=anchor != before)
        reward = 0.0 - self.step_cost
        if not flags[InfoKeys.ACTION_VALID]:
            reward += self.invalid_action_penalty
        if INFO_EM in extra:
            reward += self.success_reward * extra[INFO_EM]
        terminated = self._done
        truncated = not terminated and self._steps >= self.max_steps
        if truncated:
            extra[INFO_GOLD_ANSWER] = self.kb.name(self.question.answer_id)
        self._last_obs = obs if len(obs) <= MAX_OBS_CHARS and TEXT_CHARSET.issuperset(obs) else clip_text(obs)
        tool = result.call.tool if result.call is not None else None
        return self._last_obs, reward, terminated, truncated, self._info(flags, tool, extra, anchor)

    def render(self) -> str | None:
        return self._last_obs if self.render_mode == "ansi" and self.question is not None else None

    # ------------------------------------------------------------------ expert
    def solve(self, *, open_pages: bool = True) -> list[str]:
        """Expert actions from the current state: gather the evidence of every hop not yet found, then answer."""
        if self.question is None:
            raise gym.error.ResetNeeded("call reset() before solve()")
        return expert_plan(self.kb, self.question, k=self.top_k, done_hops=set(self._found), open_pages=open_pages)

    expert_plan = solve

    def hop_found(self, hop: int) -> bool:
        """Whether an observation has shown the fact of hop ``hop`` (0-based) this episode."""
        return hop in self._found

    # ------------------------------------------------------------------ internals
    def _choose_question(self, options: dict[str, Any] | None) -> Question:
        index = (options or {}).get(QUESTION_OPTION)
        if index is None:
            hops = int(self.np_random.integers(self.min_hops, self.max_hops + 1))
            pool = self._pools[hops]
            return pool[int(self.np_random.integers(len(pool)))]
        total = sum(len(p) for p in self._pools.values())
        if isinstance(index, bool) or not isinstance(index, numbers.Integral) or not 0 <= index < total:
            raise EnvSpecError(f"options[{QUESTION_OPTION!r}]", index, f"an int in [0, {total})")
        index = int(index)
        for h in sorted(self._pools):
            if index < len(self._pools[h]):
                return self._pools[h][index]
            index -= len(self._pools[h])
        raise AssertionError("unreachable")

    def _apply(self, result: ToolResult, extra: dict[str, Any]) -> str:
        """Move the episode state by an admissible tool call; the observation to show."""
        tool = result.call.tool
        if tool == "search":
            self._page, self._query, self._doc = SEARCH, tuple(sorted(result.terms)), None
            return self._show(result.view)
        if tool == "open":
            self._page, self._doc = DOCUMENT, result.doc_id
            if result.doc_id not in self._opened:
                self._opened = tuple(sorted((*self._opened, result.doc_id)))
            return self._show(result.view)
        gold = self.kb.name(self.question.answer_id)
        em, f1 = answer_scores(result.call.argument, gold)
        extra.update({INFO_ANSWER: result.call.argument, INFO_EM: em, INFO_F1: f1, INFO_GOLD_ANSWER: gold})
        self._page, self._done, self._won = ANSWERED, True, em == 1.0
        return f"Answer submitted: {'correct' if self._won else 'incorrect'}."

    def _show(self, view: View) -> str:
        """Record what an observation showed (hop facts found, entities named, documents listed); its text."""
        for fact in view.facts:
            hop = self._hop_facts.get(fact)
            if hop is not None and hop not in self._found:
                self._found.append(hop)
        self._view = view
        return view.text

    def _anchor(self) -> tuple:
        return (self.question.key, self._page, self._query, self._doc, self._opened, tuple(sorted(self._found)))

    def _hints(self) -> list[str]:
        if self._done:
            return []
        return list(dict.fromkeys((self._head_hint, *self._view.hints)))

    def _info(self, flags: dict[str, bool], tool: str | None, extra: dict[str, Any] | None = None, anchor: tuple | None = None) -> dict[str, Any]:
        info = {
            InfoKeys.ADMISSIBLE_ACTIONS: self._hints(),
            InfoKeys.WON: self._won,
            InfoKeys.ANCHOR_STATE: anchor if anchor is not None else self._anchor(),
            InfoKeys.TASK: self.question.text,
            InfoKeys.SUBGOALS: list(self._subgoals),
            InfoKeys.SUBGOALS_ACHIEVED: [f"hop{i + 1}" for i in self._found],
            INFO_HOPS: self.question.hops,
            INFO_QUESTION_KEY: self.question.key,
            INFO_TOOL: tool,
            **flags,
        }
        if extra:
            info.update(extra)
        return info


@dataclass(frozen=True)
class HopFound:
    """``Subgoal.check`` of hop ``hop`` (0-based): the env has shown its fact. A class, not a lambda, so it pickles."""

    hop: int

    def __call__(self, env: Any) -> bool:
        return env.unwrapped.hop_found(self.hop)


_HOP_CHECKS = tuple(HopFound(i) for i in range(MAX_HOPS))


def hop_subgoals(question: Question) -> list[Subgoal]:
    """One subgoal per hop: ``hop<i>`` "find <the entity hop i reaches>", achieved once an observation showed the hop's fact."""
    return [Subgoal(f"hop{i + 1}", f"find {text}", _HOP_CHECKS[i], rel) for i, (rel, text) in enumerate(zip(question.relations, question.hop_texts))]


def _check_int(field: str, value: Any, low: int, high: int | None) -> None:
    """An integer (numpy integers too, not bools) in ``[low, high]``, else ``EnvSpecError`` naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low or (high is not None and value > high):
        allowed = f"an int in [{low}, {high}]" if high is not None else f"an int >= {low}"
        raise EnvSpecError(field, value, allowed)
