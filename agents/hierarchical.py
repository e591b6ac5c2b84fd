"""``HierarchicalAgent``: a planner and an executor acting through the collector's one policy protocol.

Two modes (``HierarchyConfig.mode``):

- **blueprint** (HiMAC): on an episode's first step the planner writes a numbered list of
  subgoals (``<plan>1. ... 2. ...</plan>``). The executor sees only the task, the current subgoal,
  its own history inside the segment and the current observation. A segment ends when the executor
  writes ``<done>``, when ``SubgoalHooks`` reports the subgoal achieved, or after ``max_segment_steps``
  (k) steps; then the next subgoal starts. With ``replan=True`` a segment that ended without its
  subgoal makes the planner write a new blueprint (at most ``max_replans`` times an episode). When
  the blueprint runs out, the executor pursues the task goal itself.
- **switch** (HiPER): every step one generation
  ``<switch>KEEP|SWITCH</switch><subgoal>..</subgoal><action>..</action>``; SWITCH (or a subgoal
  while none is open) opens a new segment. The generation is split at the end of its switch/subgoal
  part into a ``planner`` record and an ``executor`` record (the executor's prompt is the prompt plus
  the planner tokens), so HRPO can give the two parts different advantages.

The env learns the subgoal from the text it receives: a new segment's answer starts with
``<switch>SWITCH</switch><subgoal>TEXT</subgoal>``, which ``SubgoalHooks(adopt_proposed=True)``
adopts (matching the text to the env's ``Subgoal`` with ``match_subgoal``), checks, rewards and
records as ``Trajectory.segments``. The agent reads back ``subgoal_done`` / ``segment_end`` from the
env's last ``info`` (``wants_info = True``) and keeps its per-episode state (blueprint, position,
segment history) as the collector's per-slot ``memory`` (``recurrent = True``).

Bad planner output never crashes: no usable plan gives one subgoal (the task goal) and a format
penalty recorded in the turn's ``info`` (``planner_penalty``, ``plan_format_ok``, ``plan_error``);
repeated subgoals are dropped and logged; an executor that never ends a segment is cut at k steps.

One shared model with role prompts is the default (``executor=None``); pass a second backend for two
models. Generations carry the role ``planner`` or ``executor``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from hiergym.error import ConfigError
from hiergym.info_keys import InfoKeys
from hiergym.types import Generation, Subgoal
from hiergym.wrappers.parsing import parse_llm_output
from hiergym.wrappers.subgoal_hooks import match_subgoal

from .backend import Backend, SamplingParams
from .hierarchical_prompts import DONE_TAG, PLAN_CLOSE, Blueprint, HierarchicalPrompts, parse_blueprint

logger = logging.getLogger(__name__)

PLANNER, EXECUTOR = "planner", "executor"
HierarchyMode = Literal["blueprint", "switch"]
NO_SUBGOAL = "none"
"""What the switch prompt shows while no segment is open."""
TASK_FALLBACK = "solve the task"
"""The goal subgoal when the env states no task text (``info["task"]``; Sokoban has none)."""
SWITCH_PREFIX = "<switch>SWITCH</switch><subgoal>{subgoal}</subgoal>"
"""Blueprint mode: put before the executor's answer on a segment's first step (SubgoalHooks opens the segment)."""
KEEP_PREFIX = "<switch>KEEP</switch>"
"""Blueprint mode: put before the executor's answer on the other steps, so a stray tag in it cannot switch."""


@dataclass(frozen=True)
class HierarchyLimits:
    """Segment and planning limits, shared by the agent's config and the training config's ``--hierarchy.*``."""

    max_segment_steps: int = 8
    """k: a segment ends after this many executor steps even if the executor never says <done>."""
    max_subgoals: int = 6
    """Subgoals kept from a blueprint (the rest are dropped and logged)."""
    replan: bool = False
    """Blueprint mode: after a segment that ended without its subgoal, the planner writes a new blueprint."""
    max_replans: int = 2
    """Replans per episode at most (with replan on)."""
    history_k: int = 2
    """Executor turns of the current segment shown in the executor prompt."""
    plan_max_new_tokens: int = 64
    """Token budget of one planner answer."""
    plan_format_penalty: float = -0.1
    """Added to the plan's return (HRPO's macro level) when the planner's answer holds no usable plan (<= 0)."""
    done_tag: bool = True
    """The executor may end its segment with <done> (False: only achievement or k end a segment)."""

    def __post_init__(self) -> None:
        for name in ("max_segment_steps", "max_subgoals", "plan_max_new_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"hierarchy.{name}", getattr(self, name), "an integer >= 1")
        for name in ("max_replans", "history_k"):
            if getattr(self, name) < 0:
                raise ConfigError(f"hierarchy.{name}", getattr(self, name), "an integer >= 0")
        if not self.plan_format_penalty <= 0:
            raise ConfigError("hierarchy.plan_format_penalty", self.plan_format_penalty, "a penalty <= 0 (0 = none)")

    def limits(self) -> dict[str, Any]:
        """The shared fields as keyword arguments (to build one config from the other)."""
        return {f.name: getattr(self, f.name) for f in fields(HierarchyLimits)}


@dataclass(frozen=True)
class HierarchyConfig(HierarchyLimits):
    """How the hierarchical agent plans and when its segments end."""

    mode: HierarchyMode = "blueprint"
    """blueprint: a subgoal list up front (HiMAC); switch: KEEP/SWITCH and a subgoal every step (HiPER)."""
    oracle_plan: bool = False
    """Diagnostic: no planner call; the blueprint is the env's own subgoals not achieved yet (in the env's order),
    so success measures the executor given a perfect plan."""

    def __post_init__(self) -> None:
        if self.mode not in ("blueprint", "switch"):
            raise ConfigError("hierarchy.mode", self.mode, "'blueprint' (a subgoal list up front) or 'switch' (KEEP/SWITCH each step)")
        super().__post_init__()


@dataclass
class HierarchicalAction:
    """One step's answer: ``env_action`` is the text the env receives (segment prefix + executor answer)."""

    text: str
    action: str | None
    format_ok: bool
    generations: list[Generation] = field(default_factory=list)
    memory: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    """Planner annotations merged into ``Turn.info`` (``plan``, ``plan_format_ok``, ``plan_error``, ``planner_penalty``)."""

    @property
    def env_action(self) -> str:
        return self.text


@dataclass
class EpisodeState:
    """Per-episode state, kept by the collector as the slot's ``memory``."""

    task: str
    available: list[Subgoal]
    plan: list[str] = field(default_factory=list)
    index: int = 0
    subgoal: str | None = None
    """The subgoal being pursued (None: a new segment must start)."""
    steps: int = 0
    """Executor steps in the current segment."""
    replans: int = 0
    history: deque = field(default_factory=deque)
    last_observation: str = ""
    last_action: str = ""
    said_done: bool = False


def _subgoals_of(info: dict[str, Any]) -> list[Subgoal]:
    """The env's subgoals from an info (``Subgoal`` objects in-process, plain dicts from worker processes)."""
    out = []
    for sg in info.get(InfoKeys.SUBGOALS) or []:
        if isinstance(sg, Subgoal):
            out.append(sg)
        elif isinstance(sg, dict) and "text" in sg:
            out.append(Subgoal(id=str(sg.get("id", sg["text"])), text=str(sg["text"])))
    return out


def derive_row_seed(seed: int, salt: int) -> int:
    """A second seed for the same row (the planner's), a pure function of the row's seed."""
    return (int(seed) * 6364136223846793005 + 1442695040888963407 * (salt + 1)) % (2**63)


class HierarchicalAgent:
    """Planner + executor in one ``act`` call per collector tick (one batched backend call per role).

    Args:
        planner: the planner's backend (also the executor's when ``executor`` is None: one shared model).
        executor: a second backend for two models; must be None in switch mode (one generation a step).
        config: modes and segment limits (``HierarchyConfig``).
        sampling: the executor's sampling; the planner uses ``planner_sampling`` with the temperature of
            the ``sampling`` passed to ``act`` (so greedy evaluation is greedy for both roles).
        prompts: the prompt templates (data).
    """

    recurrent = True
    wants_info = True

    def __init__(
        self,
        planner: Backend,
        executor: Backend | None = None,
        *,
        config: HierarchyConfig | None = None,
        sampling: SamplingParams | None = None,
        planner_sampling: SamplingParams | None = None,
        prompts: HierarchicalPrompts | None = None,
    ):
        self.config = config or HierarchyConfig()
        if self.config.mode == "switch" and executor is not None and executor is not planner:
            raise ConfigError("executor", type(executor).__name__, "None in switch mode: one generation holds the planner and executor parts")
        self.planner_backend = planner
        self.executor_backend = executor if executor is not None else planner
        self.sampling = sampling or SamplingParams()
        self.planner_sampling = planner_sampling or SamplingParams(max_new_tokens=self.config.plan_max_new_tokens, stop=(PLAN_CLOSE,))
        self.prompts = prompts or HierarchicalPrompts()

    @property
    def shared(self) -> bool:
        """One model plays both roles."""
        return self.executor_backend is self.planner_backend

    @property
    def backend(self) -> Backend:
        """The executor's backend (what a flat agent's ``backend`` is; warm start tokenises with it)."""
        return self.executor_backend

    # -- prompts --------------------------------------------------------------------------
    def planner_prompt(self, task: str, observation: str) -> str:
        return self.prompts.planner.format(task=task, observation=observation, max_subgoals=self.config.max_subgoals)

    def executor_prompt(self, task: str, subgoal: str, history: Sequence[tuple[str, str]], observation: str, admissible: Sequence[str]) -> str:
        turns = "".join(self.prompts.executor_turn.format(observation=o, action=a) for o, a in history)
        return self.prompts.executor.format(task=task, subgoal=subgoal, history=turns, observation=observation, admissible=", ".join(admissible))

    def switch_prompt(self, observation: str, subgoal: str | None) -> str:
        return self.prompts.switch.format(observation=observation, subgoal=subgoal or NO_SUBGOAL)

    def match(self, text: str, available: Sequence[Subgoal]) -> str:
        """The env's own text for a subgoal the planner named (``match_subgoal``), else the text as written."""
        found = match_subgoal(text, list(available)) if available else None
        return found.text if found is not None else text

    # -- acting ---------------------------------------------------------------------------
    def act(
        self,
        observations: Sequence[str],
        *,
        sampling: SamplingParams | None = None,
        seeds: Sequence[int] | None = None,
        memories: Sequence[Any] | None = None,
        infos: Sequence[dict[str, Any]] | None = None,
    ) -> list[HierarchicalAction]:
        """One ``HierarchicalAction`` per observation; ``memories``/``infos`` come from the collector."""
        n = len(observations)
        if not n:
            return []
        memories = list(memories) if memories is not None else [None] * n
        infos = list(infos) if infos is not None else [{} for _ in range(n)]
        sampling = sampling or self.sampling
        if self.config.mode == "switch":
            return self._act_switch(observations, sampling, seeds, memories, infos)
        return self._act_blueprint(observations, sampling, seeds, memories, infos)

    def _generate(self, backend: Backend, prompts: list[str], sampling: SamplingParams, role: str, seeds: list[int] | None) -> list[Generation]:
        kwargs = {} if seeds is None else {"seeds": seeds}
        return backend.generate(prompts, sampling, role=role, **kwargs)

    # -- blueprint mode -------------------------------------------------------------------
    def _act_blueprint(self, observations, sampling, seeds, memories, infos) -> list[HierarchicalAction]:
        cfg = self.config
        states: list[EpisodeState] = []
        to_plan: list[int] = []
        for i, (obs, memory, info) in enumerate(zip(observations, memories, infos)):
            raw = str(info.get(InfoKeys.RAW_OBSERVATION, obs))
            if memory is None:
                state = EpisodeState(task=str(info.get(InfoKeys.TASK) or ""), available=_subgoals_of(info))
                to_plan.append(i)
            else:
                state = memory
                state.history.append((state.last_observation, state.last_action))
                if self._segment_over(state, info):
                    failed = not info.get(InfoKeys.SUBGOAL_DONE, False)
                    state.subgoal, state.steps = None, 0
                    state.history.clear()
                    if failed and cfg.replan and state.replans < cfg.max_replans:
                        state.replans += 1
                        to_plan.append(i)
                    else:
                        state.index += 1
            state.last_observation = raw
            states.append(state)

        notes: dict[int, dict[str, Any]] = {}
        planner_gens: dict[int, Generation] = {}
        if to_plan and cfg.oracle_plan:
            for i in to_plan:
                done = set(infos[i].get(InfoKeys.SUBGOALS_ACHIEVED) or [])
                plan = [sg.text for sg in states[i].available if sg.id not in done] or [states[i].task or TASK_FALLBACK]
                state = states[i]
                state.plan, state.index = plan, 0
                notes[i] = {InfoKeys.PLAN: plan, InfoKeys.PLAN_FORMAT_OK: True, InfoKeys.PLAN_ERROR: None, InfoKeys.PLANNER_PENALTY: 0.0}
        elif to_plan:
            prompts = [self.planner_prompt(states[i].task, states[i].last_observation) for i in to_plan]
            plan_sampling = replace(self.planner_sampling, temperature=sampling.temperature)
            plan_seeds = None if seeds is None else [derive_row_seed(seeds[i], 1) for i in to_plan]
            for i, gen in zip(to_plan, self._generate(self.planner_backend, prompts, plan_sampling, PLANNER, plan_seeds)):
                planner_gens[i] = gen
                notes[i] = self._adopt_plan(states[i], parse_blueprint(gen.text, max_subgoals=cfg.max_subgoals))

        prefixes = []
        for state in states:  # the env's SubgoalHooks reads the first <switch>/<subgoal>: ours, never the executor's
            prefix = KEEP_PREFIX
            if state.subgoal is None:  # open the next segment
                state.subgoal = state.plan[state.index] if state.index < len(state.plan) else (state.task or TASK_FALLBACK)
                prefix = SWITCH_PREFIX.format(subgoal=state.subgoal)
            prefixes.append(prefix)
        prompts = [self.executor_prompt(s.task, s.subgoal, list(s.history)[-cfg.history_k:] if cfg.history_k else [], s.last_observation,
                                        infos[i].get(InfoKeys.ADMISSIBLE_ACTIONS) or []) for i, s in enumerate(states)]
        gens = self._generate(self.executor_backend, prompts, sampling, EXECUTOR, None if seeds is None else list(seeds))
        out = []
        for i, (state, gen, prefix) in enumerate(zip(states, gens, prefixes)):
            parsed = parse_llm_output(gen.text)
            state.steps += 1
            state.said_done = cfg.done_tag and DONE_TAG in gen.text.lower()
            state.last_action = parsed.action if parsed.format_ok else " ".join(gen.text.split())
            records = [planner_gens[i], gen] if i in planner_gens else [gen]
            out.append(HierarchicalAction(prefix + gen.text, parsed.action, bool(parsed.format_ok), records, state, notes.get(i, {})))
        return out

    def _segment_over(self, state: EpisodeState, info: dict[str, Any]) -> bool:
        """The last step ended the open segment: achieved, cut by SubgoalHooks, the executor's <done>, or k steps."""
        return bool(
            info.get(InfoKeys.SUBGOAL_DONE) or info.get(InfoKeys.SEGMENT_END) or state.said_done or state.steps >= self.config.max_segment_steps
        )

    def _adopt_plan(self, state: EpisodeState, blueprint: Blueprint) -> dict[str, Any]:
        """Take a parsed blueprint (or the fallback: the task goal) as the plan from now on; the turn-info notes."""
        if blueprint.format_ok:
            matched = [self.match(s, state.available) for s in blueprint.subgoals]
            plan = list(dict.fromkeys(matched))  # two texts naming the same env subgoal count once
            repeats = len(matched) - len(plan)
            error = blueprint.error
            if repeats:
                error = "; ".join(filter(None, [error, f"dropped {repeats} subgoal(s) naming the same env subgoal"]))
            if error:
                logger.info("planner blueprint: %s", error)
            penalty = 0.0
        else:
            plan, error, penalty = [state.task or TASK_FALLBACK], blueprint.error, self.config.plan_format_penalty
            logger.debug("planner answer without a usable plan (%s): one subgoal, the task goal", error)
        state.plan, state.index = plan, 0
        return {InfoKeys.PLAN: plan, InfoKeys.PLAN_FORMAT_OK: blueprint.format_ok, InfoKeys.PLAN_ERROR: error, InfoKeys.PLANNER_PENALTY: penalty}

    # -- switch mode ----------------------------------------------------------------------
    def _act_switch(self, observations, sampling, seeds, memories, infos) -> list[HierarchicalAction]:
        states = []
        for obs, memory, info in zip(observations, memories, infos):
            state = memory if memory is not None else EpisodeState(task=str(info.get(InfoKeys.TASK) or ""), available=_subgoals_of(info))
            if memory is not None and (info.get(InfoKeys.SEGMENT_END) or info.get(InfoKeys.SUBGOAL_DONE)):
                state.subgoal, state.steps = None, 0
            states.append(state)
        prompts = [self.switch_prompt(obs, s.subgoal) for obs, s in zip(observations, states)]
        gens = self._generate(self.executor_backend, prompts, sampling, EXECUTOR, None if seeds is None else list(seeds))
        tokenizer = getattr(self.executor_backend, "tokenizer", None)
        out = []
        for state, gen in zip(states, gens):
            parsed = parse_llm_output(gen.text)
            if parsed.subgoal and (state.subgoal is None or parsed.switch == "SWITCH"):
                state.subgoal, state.steps = self.match(parsed.subgoal, state.available), 0
            state.steps += 1
            records = split_switch_generation(gen, tokenizer)
            out.append(HierarchicalAction(gen.text, parsed.action, bool(parsed.format_ok), records, state))
        return out


def planner_part_end(text: str) -> int:
    """Characters of a switch-mode answer that belong to the planner: up to the end of its first
    ``</switch>`` or ``</subgoal>`` before ``<action>`` (0 when it has neither)."""
    lower = text.lower()
    action_at = lower.find("<action>")
    limit = len(lower) if action_at < 0 else action_at
    ends = [lower.find(tag, 0, limit) + len(tag) for tag in ("</switch>", "</subgoal>") if lower.find(tag, 0, limit) >= 0]
    return max(ends, default=0)


def split_switch_generation(gen: Generation, tokenizer: Any) -> list[Generation]:
    """A switch-mode generation as a ``planner`` record (switch + subgoal tokens) and an ``executor`` record (the rest).

    The executor record's prompt is the prompt plus the planner tokens, so teacher-forced log-probs of
    both records equal the sampled ones. With no switch/subgoal part (or no tokenizer to find the token
    boundary) the whole generation is the executor's.
    """
    cut = planner_part_end(gen.text)
    ids = list(gen.response_ids)
    if cut == 0 or tokenizer is None or not ids:
        return [replace(gen, role=EXECUTOR)]
    marker = gen.text[:cut]
    m = next((k for k in range(1, len(ids) + 1) if len(tokenizer.decode(ids[:k])) >= len(marker)), len(ids))
    planner = Generation(list(gen.prompt_ids), ids[:m], list(gen.logprobs[:m]), tokenizer.decode(ids[:m]), role=PLANNER, finish_reason="stop")
    if m == len(ids):
        return [planner]
    executor = Generation(list(gen.prompt_ids) + ids[:m], ids[m:], list(gen.logprobs[m:]), gen.text[len(planner.text):], role=EXECUTOR, finish_reason=gen.finish_reason)
    return [planner, executor]
