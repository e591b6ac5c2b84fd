"""``MainSubAgents``: a main agent that plans and calls named sub-agents as tools (``call[searcher: query]``).

Per env step (one collector tick, one ``act`` call for every slot):

1. the main agent answers for every slot in one batched call (role ``main``);
2. an answer ``call[<name>: <query>]`` starts that sub-agent: it runs its own multi-turn loop
   with the tools (``search[...]``, ``open[...]``; ``answer[report]`` ends it), every call of the
   tick batched together step by step (role ``sub:<name>``), and its short report is spliced into
   the main agent's prompt; the main agent answers again (at most ``max_calls_per_step`` calls);
3. the first main answer that is not a call is the env action.

The reports stay in the episode's memory (the collector keeps it per slot, ``recurrent = True``)
and are shown on every later main prompt. They are prompt tokens, never response tokens, so they
are masked out of the main agent's loss. Every sub-agent call is recorded as its own trajectory
(``Trajectory.to_dict()`` in ``Turn.info["sub_calls"]`` of the main turn that made it);
:func:`split_rollouts` turns a collected batch into main rollouts and sub-agent call
trajectories linked to their parent by ``meta["parent"]`` (the rollout id).

Bad input never crashes, it has a defined cost:

- a malformed ``call[...]`` or an unknown sub-agent: the main turn's ``format_ok`` is False (the
  M-GRPO format term) and the main agent reads an error line instead of a report;
- a sub-agent that never answers: cut after ``max_sub_steps`` with an empty report, the call
  trajectory is truncated with ``meta["returned"] = False`` (format score 0 in M-GRPO);
- a sub-agent action that is not a tool call, or a tool that raises: an error observation, the
  sub turn's ``format_ok`` is False;
- more calls than ``max_calls_per_step``: the last answer goes to the env as it is (the env
  rejects a ``call[...]`` as an invalid action) and ``info["call_limit"]`` is True.

One shared model (pass the same backend for main and sub-agents) or separate models per role.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hiergym.algos.mgrpo import FORMAT_OK, PARENT, RETURNED, ROLLOUT_ID, SUB_AGENT, rollout_id_of
from hiergym.collector.loop import derive_seed
from hiergym.error import ConfigError
from hiergym.types import Generation, Trajectory, Turn
from hiergym.wrappers.parsing import ParsedAction, parse_llm_output

from .backend import Backend, SamplingParams

logger = logging.getLogger(__name__)

MAIN_ROLE = "main"
SUB_CALLS = "sub_calls"
"""``Turn.info`` key: the sub-agent call trajectories (as dicts) the main agent made on this step."""
BAD_CALLS = "bad_calls"
"""``Turn.info`` key: malformed ``call[...]`` answers and calls to unknown sub-agents on this step."""
SUB_CALLS_N = "sub_calls_n"
"""``Turn.info`` key left by :func:`split_rollouts`: how many sub-agent calls the step made."""
MAIN_CALLS = "main_calls"
"""``Turn.info`` key: main-agent generations on this step (calls + the final answer)."""
CALL_LIMIT = "call_limit"
"""``Turn.info`` key: True when the step ran out of calls (``max_calls_per_step``) and the last call went to the env."""

MAIN_TEMPLATE = "{observation}\n{reports}Sub-agents: {names}. Ask one with call[name: query] or act yourself.\n"
"""Main prompt: the env observation, the reports so far (one line each), the available sub-agents."""
SUB_TEMPLATE = "You are the {name} sub-agent. Query: {query}\n{history}Use search[query], open[doc_id]; finish with answer[report].\n"
"""Sub-agent prompt: its query, its last tool calls and their results."""
REPORT_LINE = "Report from {name} on {query}: {text}\n"
EMPTY_REPORT = "(empty report)"

_CALL_RE = re.compile(r"\s*call\s*\[(.*)\]\s*", re.IGNORECASE | re.DOTALL)
_TOOL_RE = re.compile(r"\s*([A-Za-z_]+)\s*\[(.*)\]\s*", re.DOTALL)
_NAME_RE = re.compile(r"[a-z][a-z0-9_-]*")
SUB_ANSWER_TOOL = "answer"


@dataclass(frozen=True)
class SubCall:
    """A well-formed ``call[name: query]``."""

    name: str
    query: str


@dataclass(frozen=True)
class BadCall:
    """A ``call[...]`` that cannot run: why (malformed, unknown sub-agent)."""

    reason: str


def parse_call(action: str | None, known: Sequence[str] | None = None) -> SubCall | BadCall | None:
    """``SubCall`` for ``call[name: query]``, ``BadCall`` for a broken or unknown call, None when ``action`` is no call."""
    if not action or not action.lstrip().lower().startswith("call"):
        return None
    m = _CALL_RE.fullmatch(action)
    if m is None:
        return BadCall("a sub-agent call must look like call[name: query]")
    name, sep, query = m.group(1).partition(":")
    name, query = name.strip().lower(), " ".join(query.split())
    if not sep or not name or not query:
        return BadCall("a sub-agent call must look like call[name: query], with a name and a query")
    if not _NAME_RE.fullmatch(name):
        return BadCall(f"{name[:30]!r} is not a sub-agent name")
    if known is not None and name not in known:
        return BadCall(f"unknown sub-agent {name[:30]!r}; available: {', '.join(known)}")
    return SubCall(name, query)


@dataclass(frozen=True)
class Report:
    """What a sub-agent call gave back to the main agent (kept in the episode's memory)."""

    name: str
    query: str
    text: str
    returned: bool = True

    def line(self) -> str:
        return REPORT_LINE.format(name=self.name, query=self.query, text=self.text or EMPTY_REPORT)


@dataclass
class MainSubAction:
    """The main agent's answer for one slot: ``text`` goes to the env; ``generations`` are its main-role calls."""

    text: str
    action: str | None
    format_ok: bool
    generations: list[Generation] = field(default_factory=list)
    memory: tuple[Report, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def env_action(self) -> str:
        return self.text


Tool = Callable[[str], str]
"""A sub-agent tool: argument text -> observation text."""


@dataclass
class _SubRun:
    row: int
    call: SubCall
    seed: int | None
    trajectory: Trajectory
    history: list[tuple[str, str]] = field(default_factory=list)
    report: Report | None = None


class MainSubAgents:
    """Main agent + named sub-agents, driven by the collector like any policy (``recurrent``: reports live per episode).

    Args:
        main: the main agent's backend.
        subs: one backend for every sub-agent, or ``{name: backend}``; the names are the callable sub-agents.
        tools: the sub-agents' tools, ``{name: fn(argument) -> observation}`` (e.g. ``search``, ``open``);
            ``answer[report]`` ends a sub-agent's loop and is not a tool.
        sub_names: the sub-agent names when ``subs`` is a single backend.
        sampling / sub_sampling: sampling of the main agent / the sub-agents.
        max_calls_per_step: sub-agent calls the main agent may make before its answer must be an env action.
        max_sub_steps: tool steps of one sub-agent call before it is cut with an empty report.
        report_chars: reports are clipped to this many characters before splicing.
        tool_chars: tool observations are clipped to this many characters in the sub-agent's prompt.
        sub_history: the sub-agent prompt shows its last this-many tool calls and results.
    """

    recurrent = True

    def __init__(
        self,
        main: Backend,
        subs: Backend | Mapping[str, Backend],
        *,
        tools: Mapping[str, Tool],
        sub_names: Sequence[str] = ("searcher",),
        sampling: SamplingParams | None = None,
        sub_sampling: SamplingParams | None = None,
        main_template: str = MAIN_TEMPLATE,
        sub_template: str = SUB_TEMPLATE,
        max_calls_per_step: int = 2,
        max_sub_steps: int = 4,
        report_chars: int = 200,
        tool_chars: int = 400,
        sub_history: int = 2,
        parser: Callable[[str], ParsedAction] = parse_llm_output,
    ):
        self.main = main
        self.subs = dict(subs) if isinstance(subs, Mapping) else {n: subs for n in sub_names}
        if not self.subs:
            raise ConfigError("subs", subs, "at least one named sub-agent backend")
        for name in self.subs:
            if not _NAME_RE.fullmatch(name):
                raise ConfigError("subs", name, "sub-agent names are lower-case words (letters, digits, _ or -), e.g. 'searcher'")
        if SUB_ANSWER_TOOL in tools:
            raise ConfigError("tools", sorted(tools), f"{SUB_ANSWER_TOOL!r} ends a sub-agent's loop and cannot be a tool")
        for name, value in (("max_calls_per_step", max_calls_per_step), ("max_sub_steps", max_sub_steps), ("report_chars", report_chars),
                            ("tool_chars", tool_chars), ("sub_history", sub_history)):
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "sub_history" else 1):
                raise ConfigError(name, value, "an integer >= 1" if name != "sub_history" else "an integer >= 0")
        for name, template, fields_ in (("main_template", main_template, ("{observation}", "{reports}")), ("sub_template", sub_template, ("{query}", "{history}"))):
            missing = [f for f in fields_ if f not in template]
            if missing:
                raise ConfigError(name, template, f"a str.format template containing {' and '.join(fields_)} (missing {', '.join(missing)})")
        self.tools = dict(tools)
        self.sampling = sampling or SamplingParams()
        self.sub_sampling = sub_sampling or self.sampling
        self.main_template, self.sub_template = main_template, sub_template
        self.max_calls_per_step, self.max_sub_steps = max_calls_per_step, max_sub_steps
        self.report_chars, self.tool_chars, self.sub_history = report_chars, tool_chars, sub_history
        self.parser = parser

    # -- roles and models ----------------------------------------------------------------

    @property
    def sub_agent_names(self) -> list[str]:
        return list(self.subs)

    def backends(self) -> dict[str, Backend]:
        """Generation role -> backend (``main``, ``sub:<name>``); the same object twice means a shared model."""
        return {MAIN_ROLE: self.main, **{f"sub:{n}": b for n, b in self.subs.items()}}

    # -- prompts -------------------------------------------------------------------------

    def main_prompt(self, observation: str, reports: Sequence[Report]) -> str:
        return self.main_template.format(observation=observation, reports="".join(r.line() for r in reports), names=", ".join(self.subs))

    def sub_prompt(self, run: _SubRun) -> str:
        shown = run.history[-self.sub_history :] if self.sub_history else []
        history = "".join(f"> {a}\n{o}\n" for a, o in shown)
        return self.sub_template.format(name=run.call.name, query=run.call.query, history=history)

    # -- acting --------------------------------------------------------------------------

    def act(
        self,
        observations: Sequence[str],
        *,
        sampling: SamplingParams | None = None,
        seeds: Sequence[int] | None = None,
        memories: Sequence[Any] | None = None,
    ) -> list[MainSubAction]:
        """One env action per observation; sub-agent calls run (batched) inside this call."""
        n = len(observations)
        if n == 0:
            return []
        sampling = sampling or self.sampling
        sub_sampling = self.sub_sampling if sampling is self.sampling else sampling  # evaluation sampling applies to every role
        reports = [list(m or ()) for m in (memories or [None] * n)]
        gens: list[list[Generation]] = [[] for _ in range(n)]
        format_ok = [True] * n
        bad_calls, calls_made = [0] * n, [0] * n
        sub_calls: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        final: list[tuple[str, ParsedAction] | None] = [None] * n
        limit = [False] * n
        pending = list(range(n))
        rnd = 0
        while pending:
            prompts = [self.main_prompt(observations[i], reports[i]) for i in pending]
            row_seeds = None if seeds is None else [int(seeds[i]) if rnd == 0 else derive_seed(seeds[i], "main", rnd) for i in pending]
            out = self.main.generate(prompts, sampling, role=MAIN_ROLE, **({} if row_seeds is None else {"seeds": row_seeds}))
            runs: list[_SubRun] = []
            for i, g in zip(pending, out):
                gens[i].append(g)
                parsed = self.parser(g.text)
                call = parse_call(parsed.action, self.sub_agent_names) if parsed.format_ok else None
                if call is None or calls_made[i] >= self.max_calls_per_step:
                    final[i] = (g.text, parsed)
                    limit[i] = call is not None
                    format_ok[i] = format_ok[i] and bool(parsed.format_ok) and not isinstance(call, BadCall)
                    continue
                calls_made[i] += 1
                if isinstance(call, BadCall):
                    format_ok[i] = False
                    bad_calls[i] += 1
                    reports[i].append(Report("error", parsed.action[:40], call.reason, returned=False))
                    continue
                seed = None if seeds is None else derive_seed(seeds[i], "sub", rnd)
                traj = Trajectory(group_id="", env_id=f"sub:{call.name}", seed=0, meta={SUB_AGENT: call.name, "query": call.query, "call": calls_made[i] - 1})
                runs.append(_SubRun(i, call, seed, traj))
            self._run_subs(runs, sub_sampling)
            for run in runs:
                reports[run.row].append(run.report)
                sub_calls[run.row].append(run.trajectory.to_dict())
            pending = [i for i in pending if final[i] is None]
            rnd += 1
        actions = []
        for i in range(n):
            text, parsed = final[i]
            info = {FORMAT_OK: format_ok[i], MAIN_CALLS: len(gens[i]), BAD_CALLS: bad_calls[i], CALL_LIMIT: limit[i], SUB_CALLS: sub_calls[i]}
            actions.append(MainSubAction(text, parsed.action, bool(parsed.format_ok), gens[i], tuple(reports[i]), info))
        return actions

    def _run_subs(self, runs: list[_SubRun], sampling: SamplingParams) -> None:
        """Run every sub-agent call of this round to its report, one batched generate per sub-agent and step."""
        active = list(runs)
        for step in range(self.max_sub_steps):
            if not active:
                return
            for name in dict.fromkeys(r.call.name for r in active):
                batch = [r for r in active if r.call.name == name]
                prompts = [self.sub_prompt(r) for r in batch]
                seeds = None if any(r.seed is None for r in batch) else [derive_seed(r.seed, name, step) for r in batch]
                out = self.subs[name].generate(prompts, sampling, role=f"sub:{name}", **({} if seeds is None else {"seeds": seeds}))
                for run, prompt, g in zip(batch, prompts, out):
                    self._sub_step(run, prompt, g)
            active = [r for r in active if r.report is None]
        for run in active:  # never answered: cut with an empty report
            run.report = Report(run.call.name, run.call.query, "", returned=False)
            run.trajectory.meta[RETURNED] = False
            if run.trajectory.turns:
                run.trajectory.turns[-1].truncated = True

    def _sub_step(self, run: _SubRun, prompt: str, g: Generation) -> None:
        parsed = self.parser(g.text)
        m = _TOOL_RE.fullmatch(parsed.action) if parsed.format_ok and parsed.action else None
        tool, arg = (m.group(1).lower(), " ".join(m.group(2).split())) if m else ("", "")
        ok, done, obs = True, False, ""
        if not m or not arg:
            ok, obs = False, f"Invalid action: {parsed.error or 'not of the form tool[argument]'}."
        elif tool == SUB_ANSWER_TOOL:
            done = True
            run.report = Report(run.call.name, run.call.query, arg[: self.report_chars], returned=True)
            run.trajectory.meta[RETURNED] = True
            run.trajectory.success = True
        elif tool not in self.tools:
            ok, obs = False, f"Invalid action: unknown tool {tool[:20]!r}; use {', '.join([*self.tools, SUB_ANSWER_TOOL])}."
        else:
            try:
                obs = str(self.tools[tool](arg))
            except Exception as e:  # a tool must not crash the rollout: the sub-agent reads the error
                logger.warning("sub-agent tool %s[%s] raised %s", tool, arg[:40], e)
                ok, obs = False, f"Tool error: {type(e).__name__}: {str(e)[:100]}"
        obs = obs[: self.tool_chars]
        run.trajectory.turns.append(Turn(prompt, parsed.action, raw_action=g.text, terminated=done, action_valid=ok, generations=[g],
                                         info={FORMAT_OK: ok, "tool": tool or None}))
        run.history.append((parsed.action or g.text[:80], obs))


def split_rollouts(trajectories: Sequence[Trajectory]) -> tuple[list[Trajectory], list[Trajectory]]:
    """Main rollouts and sub-agent call trajectories of a collected batch (in place: the calls leave ``Turn.info``).

    Each main rollout gets ``meta["rollout_id"]``; each call gets its parent's ``group_id``,
    ``env_id`` and ``seed``, and ``meta["parent"]`` = the rollout id, ``meta["turn"]`` = the main turn.
    """
    mains: list[Trajectory] = []
    subs: list[Trajectory] = []
    for t in trajectories:
        rid = rollout_id_of(t)
        t.meta[ROLLOUT_ID] = rid
        for k, turn in enumerate(t.turns):
            calls = turn.info.pop(SUB_CALLS, ())
            for d in calls:
                call = Trajectory.from_dict(d)
                call.group_id, call.seed = t.group_id, t.seed
                call.meta.update({PARENT: rid, "turn": k, "env_id": t.env_id})
                subs.append(call)
            turn.info[SUB_CALLS_N] = len(calls)
        mains.append(t)
    return mains, subs


__all__ = ["BadCall", "MainSubAction", "MainSubAgents", "Report", "SubCall", "parse_call", "split_rollouts"]
