"""The Household Gymnasium env: ALFWorld's household tasks on our own pure-Python engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from hiergym.envs.common import INVALID_ACTION_PENALTY, MAX_ACTION_CHARS, MAX_OBS_CHARS, action_flags, clip_text, normalize_command, text_space
from hiergym.envs.household.catalog import ROOMS
from hiergym.envs.household.generator import SPLITS, Episode, HouseholdGenerator
from hiergym.envs.household.solver import expert_plan
from hiergym.envs.household.tasks import TASK_TYPES, Task, subgoals
from hiergym.envs.household.world import NOTHING_HAPPENS, World
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys

DEFAULT_MAX_STEPS = 50
"""ALFWorld's usual evaluation budget."""
DEFAULT_SUCCESS_REWARD = 1.0
MAX_DISTRACTORS = 100
"""Keeps every observation (a receptacle's contents, the intro) well inside MAX_OBS_CHARS."""


class HouseholdEnv(gym.Env[str, str]):
    """ALFWorld-style household tasks: find, take, clean / heat / cool, place and look at objects.

    **Description.** One room (kitchen, bathroom, bedroom or living room) with numbered
    receptacles (``cabinet 3``, ``fridge 1``, ...) holding numbered objects (``apple 1``). The
    agent starts in the middle of the room and must complete one task given as an ALFWorld
    goal sentence, e.g. ``put a clean mug in coffeemachine.`` Layouts, placements and tasks
    are generated from the seed (``hiergym.envs.household.generator``); the engine is
    ``hiergym.envs.household.world`` (no ALFWorld data, no TextWorld, no game compiler).

    **Action space.** ``Text`` (printable ASCII, up to 512 chars): one command of ALFWorld's
    grammar, ``go to R``, ``open R``, ``close R``, ``take O from R``, ``put O in/on R``
    (also ``put O in R``, ``put O on R``, ``move O to R``), ``clean O with sinkbasin N``,
    ``heat O with microwave N``, ``cool O with fridge N``, ``use desklamp N``, ``examine X``,
    ``inventory``, ``look``. Case and extra spaces are ignored.

    **Observation space.** ``Text`` (printable ASCII, up to 8192 chars). Reset: ALFWorld's
    intro (``-= Welcome to TextWorld, ALFRED! =- ... Your task is to: ...``). Step: the
    command's feedback (``You arrive at loc 5. On the countertop 1, you see a apple 1, and a
    mug 2.``); anything illegal or unparsable answers ``Nothing happens.``

    **Rewards.** ``success_reward`` (default 1) on the step that completes the task;
    ``-step_cost`` every step (default 0); ``invalid_action_penalty`` (default -0.1) added when
    the command is malformed or not admissible (the state is then unchanged).

    **Starting state.** Agent in the middle of the room, hand empty, every door closed,
    nothing clean/hot/cool, lamps off; no object of the task's kind starts in a target
    receptacle.

    **Episode end.** ``terminated`` when the task is won; ``truncated`` after ``max_steps``.

    **Info.** ``admissible_actions``, ``won``, ``action_valid`` / ``action_format_ok`` /
    ``action_admissible`` / ``action_effective``, ``anchor_state`` (location, held object,
    every object's receptacle and states, open receptacles, lit lamps; canonical),
    ``task`` (goal sentence), ``subgoals`` / ``subgoals_achieved``, ``optimal_length`` (the
    shortest solution from the start state, from ``expert_plan``).

    **Arguments.** ``task_types`` (subset of ``TASK_TYPES``), ``rooms`` (subset of
    kitchen/bathroom/bedroom/livingroom), ``num_receptacles`` (exact count, or None for
    the room's natural range), ``num_distractors`` (objects besides the task's, None =
    6..14), ``split`` (train / valid_seen / valid_unseen), ``max_steps``, ``success_reward``,
    ``step_cost``, ``invalid_action_penalty``.

    **Version history.** v0: initial release.
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        *,
        task_types: Sequence[str] = TASK_TYPES,
        rooms: Sequence[str] | None = None,
        num_receptacles: int | None = None,
        num_distractors: int | None = None,
        split: str = "train",
        max_steps: int = DEFAULT_MAX_STEPS,
        success_reward: float = DEFAULT_SUCCESS_REWARD,
        step_cost: float = 0.0,
        invalid_action_penalty: float = INVALID_ACTION_PENALTY,
        render_mode: str | None = None,
    ):
        task_types = (task_types,) if isinstance(task_types, str) else tuple(task_types)
        rooms = tuple(ROOMS) if rooms is None else ((rooms,) if isinstance(rooms, str) else tuple(rooms))
        _check_choices("task_types", task_types, TASK_TYPES)
        _check_choices("rooms", rooms, tuple(ROOMS))
        _check_choices("split", (split,), SPLITS)
        if max_steps < 1:
            raise EnvSpecError("max_steps", max_steps, "an integer >= 1")
        if num_distractors is not None and not 0 <= num_distractors <= MAX_DISTRACTORS:
            raise EnvSpecError("num_distractors", num_distractors, f"None or an integer in [0, {MAX_DISTRACTORS}]")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise EnvSpecError("render_mode", render_mode, f"None or one of {self.metadata['render_modes']}")
        self.generator = HouseholdGenerator(
            task_types=task_types, rooms=rooms, num_receptacles=num_receptacles, num_distractors=num_distractors, split=split
        )
        self.max_steps = max_steps
        self.success_reward = float(success_reward)
        self.step_cost = float(step_cost)
        self.invalid_action_penalty = float(invalid_action_penalty)
        self.render_mode = render_mode
        self.observation_space = text_space(MAX_OBS_CHARS)
        self.action_space = text_space(MAX_ACTION_CHARS)
        self.world: World | None = None
        self.episode: Episode | None = None

    @property
    def task(self) -> Task:
        """The current episode's task (after ``reset``)."""
        return self.episode.task

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Sample a room and task with the seeded ``np_random`` and return the room's description and goal."""
        super().reset(seed=seed)
        self.episode = self.generator.sample(self.np_random)
        self.world = World(self.episode.receptacles, self.episode.placement, fixed=self.episode.fixed)
        self._subgoals = subgoals(self.task)
        self._achieved: list[str] = []
        self._optimal_length = len(expert_plan(self.world, self.task))
        self._steps = 0
        self._won = False
        self._update_subgoals()
        self._last_obs = clip_text(self.world.intro(self.task.goal))
        return self._last_obs, self._info(action_flags(format_ok=True, admissible=True, effective=False))

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one text command: step cost, invalid-action penalty and success reward as documented."""
        if self.world is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        command = normalize_command(action)
        if command is None or self._won:  # not text, or the episode is already won
            outcome_text = NOTHING_HAPPENS
            flags = action_flags(format_ok=command is not None, admissible=False, effective=False)
        else:
            outcome = self.world.step(command)
            outcome_text = outcome.feedback
            flags = action_flags(format_ok=outcome.format_ok, admissible=outcome.admissible, effective=outcome.effective)
        self._steps += 1
        reward = 0.0 - self.step_cost
        if not flags[InfoKeys.ACTION_VALID]:
            reward += self.invalid_action_penalty
        if flags[InfoKeys.ACTION_EFFECTIVE]:
            self._update_subgoals()
            if not self._won and self.task.won(self.world):
                self._won = True
                reward += self.success_reward
        self._last_obs = _as_observation(outcome_text)
        truncated = self._steps >= self.max_steps and not self._won
        return self._last_obs, reward, self._won, truncated, self._info(flags)

    def expert_plan(self) -> list[str]:
        """A shortest command list that wins from the current state: an expert demonstration."""
        if self.world is None:
            raise gym.error.ResetNeeded("call reset() before expert_plan()")
        return expert_plan(self.world, self.task)

    def render(self) -> str | None:
        """The last observation for ``render_mode="ansi"``, else None."""
        return self._last_obs if self.render_mode == "ansi" else None

    def _update_subgoals(self) -> None:
        for sg in self._subgoals:
            if sg.id not in self._achieved and sg.check(self):
                self._achieved.append(sg.id)

    def _info(self, flags: dict[str, bool]) -> dict[str, Any]:
        return {
            InfoKeys.ADMISSIBLE_ACTIONS: self.world.admissible_commands(),
            InfoKeys.WON: self._won,
            InfoKeys.ANCHOR_STATE: self.world.anchor(),
            InfoKeys.TASK: self.task.goal,
            InfoKeys.SUBGOALS: list(self._subgoals),
            InfoKeys.SUBGOALS_ACHIEVED: list(self._achieved),
            InfoKeys.OPTIMAL_LENGTH: self._optimal_length,
            **flags,
        }


def _as_observation(text: str) -> str:
    """``clip_text`` with a fast path: feedback is built from catalogue names, so it is almost always in the space."""
    if text.isascii() and text.isprintable() and len(text) <= MAX_OBS_CHARS:
        return text
    return clip_text(text)


def _check_choices(field: str, values: tuple, allowed: tuple) -> None:
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise EnvSpecError(field, values if len(values) != 1 else values[0], f"a non-empty choice from {list(allowed)}")
