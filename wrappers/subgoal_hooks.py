"""SubgoalHooks: declare, check and reward subgoals; cut the episode into executor segments."""

from __future__ import annotations

import difflib
from typing import Any

import gymnasium as gym

from hiergym.error import ConfigError
from hiergym.info_keys import InfoKeys
from hiergym.types import Segment, Subgoal, Trajectory, Turn
from hiergym.wrappers.parsing import parse_llm_output

MATCH_CUTOFF = 0.85
"""How close free text must be to a subgoal's text to be taken as that subgoal."""
MATCH_MARGIN = 0.02
"""How much closer the best text must be than the runner-up; ties stay free text, never a guess."""


def _norm(text: str) -> str:
    return " ".join(str(text).lower().split())


def match_subgoal(query: str, subgoals: list[Subgoal], cutoff: float = MATCH_CUTOFF) -> Subgoal | None:
    """The env subgoal that ``query`` names: by id, by text (case/space-insensitive), else the one
    clearly closest text (ratio >= ``cutoff`` and ``MATCH_MARGIN`` ahead of the next), else None."""
    q = _norm(query)
    for sg in subgoals:
        if q in (_norm(sg.id), _norm(sg.text)):
            return sg
    scored = sorted(((difflib.SequenceMatcher(None, q, _norm(sg.text)).ratio(), i) for i, sg in enumerate(subgoals)), reverse=True)
    if not scored or scored[0][0] < cutoff:
        return None
    if len(scored) > 1 and scored[0][0] - scored[1][0] < MATCH_MARGIN:
        return None
    return subgoals[scored[0][1]]


class SubgoalHooks(gym.Wrapper):
    """Lets an agent pursue one subgoal at a time and rewards reaching it.

    ``set_subgoal(id_or_text)`` starts a segment. Each step evaluates the subgoal's env-side
    ``check(env.unwrapped)``; on completion it adds ``subgoal_bonus``; every step in a segment
    costs ``step_cost``. A segment ends when the subgoal is done (``end_on_done``), after
    ``max_segment_steps`` steps, or with the episode; ``segments`` lists the finished ones as
    ``Segment(subgoal, start, end, achieved)`` over step indices ``[start, end)``. Free text that
    names no env subgoal is kept as the subgoal but can only end by the step limit.
    With ``adopt_proposed=True`` the LLM answer itself can set the subgoal, HiPER style: a
    ``<subgoal>`` starts a segment before the action runs when none is open or with
    ``<switch>SWITCH</switch>`` (``KEEP`` continues the open one). With ``follow_env=True`` a
    step with no open segment pursues the env's next subgoal not yet achieved (in the env's
    order), so a flat policy gets the subgoal bonus and segments without a planner.

    ``info`` gains ``subgoal`` (pursued on this step), ``subgoal_done``, ``segment_start``,
    ``segment_end``, ``intrinsic_reward`` and ``env_reward`` (the reward before the intrinsic part
    was added). ``record_segments`` rebuilds the segments from these per-step infos into
    ``Trajectory.segments``, so they cross process boundaries with the turns.
    """

    def __init__(
        self,
        env: gym.Env,
        *,
        max_segment_steps: int | None = None,
        subgoal_bonus: float = 1.0,
        step_cost: float = 0.0,
        end_on_done: bool = True,
        adopt_proposed: bool = False,
        follow_env: bool = False,
    ):
        super().__init__(env)
        if max_segment_steps is not None and max_segment_steps < 1:
            raise ConfigError("max_segment_steps", max_segment_steps, "a positive number of steps, or None for no limit")
        if step_cost < 0:
            raise ConfigError("step_cost", step_cost, "a cost >= 0 (it is subtracted each step)")
        self.max_segment_steps = max_segment_steps
        self.subgoal_bonus = float(subgoal_bonus)
        self.step_cost = float(step_cost)
        self.end_on_done = end_on_done
        self.adopt_proposed = adopt_proposed
        self.follow_env = follow_env
        self._clear()

    def _clear(self) -> None:
        self.available: list[Subgoal] = []
        self.achieved_ids: list[str] = []
        self.current: Subgoal | None = None
        self.segments: list[Segment] = []
        self._t = 0
        self._seg_start = 0

    # -- agent-facing API -----------------------------------------------------------
    def set_subgoal(self, subgoal: str | Subgoal) -> Subgoal:
        """Start pursuing ``subgoal`` (an id, a text or a Subgoal); closes an open segment unachieved."""
        if self.current is not None:
            self._close(achieved=False)
        if isinstance(subgoal, Subgoal):
            chosen = subgoal
        else:
            chosen = match_subgoal(subgoal, self.available) or Subgoal(id=f"text:{_norm(subgoal)}", text=str(subgoal))
        self.current = chosen
        self._seg_start = self._t
        return chosen

    def _close(self, *, achieved: bool) -> None:
        assert self.current is not None
        self.segments.append(Segment(self.current.text, self._seg_start, self._t, achieved))
        self.current = None

    # -- gymnasium API --------------------------------------------------------------
    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._clear()
        self.available = list(info.get(InfoKeys.SUBGOALS, []))
        self.achieved_ids = list(info.get(InfoKeys.SUBGOALS_ACHIEVED, []))
        info.update({InfoKeys.SUBGOAL: None, InfoKeys.SUBGOAL_DONE: False, InfoKeys.SEGMENT_START: False, InfoKeys.SEGMENT_END: False})
        return obs, info

    def next_env_subgoal(self) -> Subgoal | None:
        """The first of the env's subgoals not achieved yet (None when all are)."""
        return next((sg for sg in self.available if sg.id not in self.achieved_ids), None)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self.adopt_proposed:
            parsed = parse_llm_output(action)
            if parsed.subgoal and (self.current is None or parsed.switch == "SWITCH"):
                self.set_subgoal(parsed.subgoal)
        if self.follow_env and self.current is None:
            pending = self.next_env_subgoal()
            if pending is not None:
                self.set_subgoal(pending)
        obs, env_reward, terminated, truncated, info = self.env.step(action)
        if InfoKeys.SUBGOALS in info:
            self.available = list(info[InfoKeys.SUBGOALS])
        if InfoKeys.SUBGOALS_ACHIEVED in info:
            self.achieved_ids = list(info[InfoKeys.SUBGOALS_ACHIEVED])
        segment_start = self.current is not None and self._seg_start == self._t
        self._t += 1
        active = self.current
        done = bool(active is not None and active.check is not None and active.check(self.env.unwrapped))
        intrinsic = 0.0
        if active is not None:
            intrinsic = (self.subgoal_bonus if done else 0.0) - self.step_cost
        seg_len = self._t - self._seg_start
        limit_hit = self.max_segment_steps is not None and seg_len >= self.max_segment_steps
        segment_end = active is not None and ((done and self.end_on_done) or limit_hit or terminated or truncated)
        info.update(
            {
                InfoKeys.SUBGOAL: active.text if active is not None else None,
                InfoKeys.SUBGOAL_DONE: done,
                InfoKeys.SEGMENT_START: segment_start,
                InfoKeys.SEGMENT_END: segment_end,
                InfoKeys.INTRINSIC_REWARD: intrinsic,
                InfoKeys.ENV_REWARD: float(env_reward),
            }
        )
        if segment_end:
            self._close(achieved=done)
        return obs, float(env_reward) + intrinsic, terminated, truncated, info


def segments_of(turns: list[Turn]) -> list[Segment]:
    """The executor segments of an episode, rebuilt from the per-step ``info`` that ``SubgoalHooks`` wrote.

    A segment starts on a turn flagged ``segment_start`` and ends after one flagged ``segment_end``
    (achieved = that turn's ``subgoal_done``); a segment still open when the turns stop (e.g. the
    collector's own turn cap) ends with them, unachieved. Equals ``SubgoalHooks.segments``.
    """
    segments: list[Segment] = []
    open_at: int | None = None
    for i, turn in enumerate(turns):
        info = turn.info
        subgoal = info.get(InfoKeys.SUBGOAL)
        if subgoal is None:
            continue
        if info.get(InfoKeys.SEGMENT_START) or open_at is None:
            if open_at is not None:  # replaced by a new subgoal before it ended
                segments.append(Segment(turns[open_at].info[InfoKeys.SUBGOAL], open_at, i, False))
            open_at = i
        if info.get(InfoKeys.SEGMENT_END):
            segments.append(Segment(subgoal, open_at, i + 1, bool(info.get(InfoKeys.SUBGOAL_DONE))))
            open_at = None
    if open_at is not None:
        segments.append(Segment(turns[open_at].info[InfoKeys.SUBGOAL], open_at, len(turns), False))
    return segments


def record_segments(trajectory: Trajectory) -> None:
    """Collector ``on_episode`` hook: fill ``trajectory.segments`` and each turn's ``subgoal`` (the one it pursued)."""
    trajectory.segments = segments_of(trajectory.turns)
    for turn in trajectory.turns:
        turn.subgoal = turn.info.get(InfoKeys.SUBGOAL)
