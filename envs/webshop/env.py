"""``hiergym/WebShop-v0``: shop for the product an instruction describes (in-process, fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from hiergym.envs.common import (
    INVALID_ACTION_PENALTY,
    MAX_ACTION_CHARS,
    MAX_OBS_CHARS,
    TEXT_CHARSET,
    clip_text,
    text_space,
)
from hiergym.envs.webshop.catalogue import Product
from hiergym.envs.webshop.instructions import Goal, goal_for_task
from hiergym.envs.webshop.reward import DEFAULT_REWARD_RULE, REWARD_RULES
from hiergym.envs.webshop.state import ShopState, Transition, state_info, subgoal_specs
from hiergym.envs.webshop.store import ProductStore
from hiergym.envs.webshop.views import render_observation
from hiergym.error import EnvSpecError
from hiergym.info_keys import InfoKeys
from hiergym.types import Subgoal

OBS_MODES = ("text", "html")
RENDER_MODES = ("ansi",)
DEFAULT_MAX_STEPS = 15
"""WebShop's usual episode budget (verl-agent and the WebShop paper's IL/RL agents use 15)."""
DEFAULT_NUM_TASKS = 100_000
TASK_ID_OPTION = "task_id"


def make_subgoals(goal: Goal) -> list[Subgoal]:
    """``Subgoal`` objects; ``check(env)`` is True once the shop state of ``env`` has achieved it.

    Achievement is sticky (evaluated after every effective action by ``ShopState``), so the
    check means the same in-process and over HTTP, where only the achieved ids are visible.
    """
    return [
        Subgoal(id=sid, text=text, check=lambda env, sid=sid: sid in env.unwrapped.shop.achieved, target=sid)
        for sid, text, _ in subgoal_specs(goal)
    ]


class WebShopEnv(gym.Env):
    """Buy the product an instruction asks for in a generated web shop (after WebShop, Yao et al. 2022).

    **Description.** A seeded catalogue (1,000 products by default, many categories) sits in
    SQLite with an FTS5/BM25 index. Each task is an instruction generated from a target
    product ("i need a gluten free coffee with dark roast, and price lower than 20.00 dollars").
    The agent searches, pages through results (10 a page), opens items, picks options, reads
    the description/features/reviews, and buys.

    **Action space.** ``Text`` over printable ASCII (``envs.common.text_space``):
    ``search[query]`` on the search page, ``click[label]`` elsewhere; labels are "back to
    search", "next >", "< prev", a product id (``b8k9f8y9un``), an option value ("large"),
    "description", "features", "reviews", "buy now". ``info["admissible_actions"]`` lists the
    legal commands (``search[<query>]`` on the search page).

    **Observation space.** ``Text`` (printable ASCII, at most 8,192 chars). ``obs_mode="text"``:
    WebShop's compact form, page elements joined by ``[SEP]``, the instruction first.
    ``obs_mode="html"``: the main part of the same page the web site shows.

    **Rewards.** 0 per step; ``invalid_action_penalty`` (default -0.1) for an action that does
    not parse or is not allowed (nothing changes; the observation says why); on buying,
    WebShop's reward r = r_type * (matched attributes + matched options + [price <= bound]) /
    (goal attributes + goal options + 1). ``reward="exact"`` (default) matches attributes and
    options exactly (``hiergym.envs.webshop.reward``); ``reward="webshop"`` is the original
    WebShop rule with fuzzy matching (``hiergym.envs.webshop.reward_webshop``, needs rapidfuzz),
    for scores comparable with published WebShop numbers.

    **Starting state.** The search page of task ``task_id``, drawn from
    ``[0, num_tasks)`` with ``self.np_random`` or given as ``reset(options={"task_id": k})``.

    **Episode end.** Terminated on buying (``info["won"]`` when r = 1); truncated after
    ``max_steps`` actions.

    **Info.** ``admissible_actions``, ``won``, ``anchor_state`` (page, query, result page, item,
    view, selected options), ``subgoals`` (search, open_item, option:<kind>..., buy),
    ``subgoals_achieved``, ``task`` (the instruction) and the action validity flags.

    **Arguments.** ``num_products`` (1,000), ``catalogue_seed`` (0), ``obs_mode`` (text|html),
    ``max_steps`` (15), ``num_tasks`` (100,000), ``invalid_action_penalty`` (-0.1),
    ``reward`` ("exact" | "webshop", default "exact"),
    ``cache_dir`` (where the SQLite file for (seed, n) is cached; default
    ``~/.cache/hiergym/webshop``), ``in_memory`` (build in memory, no file), ``render_mode``
    ("ansi" returns the text page).

    **Version history.** v0: first release.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        num_products: int = 1000,
        catalogue_seed: int = 0,
        obs_mode: Literal["text", "html"] = "text",
        max_steps: int = DEFAULT_MAX_STEPS,
        num_tasks: int = DEFAULT_NUM_TASKS,
        invalid_action_penalty: float = INVALID_ACTION_PENALTY,
        cache_dir: str | Path | None = None,
        in_memory: bool = False,
        render_mode: str | None = None,
        reward: Literal["exact", "webshop"] = DEFAULT_REWARD_RULE,
    ):
        configure(
            self, num_products=num_products, obs_mode=obs_mode, max_steps=max_steps, num_tasks=num_tasks,
            render_mode=render_mode, reward=reward, invalid_action_penalty=invalid_action_penalty,
        )
        self.store = (
            ProductStore.in_memory(catalogue_seed, num_products)
            if in_memory
            else ProductStore.open(catalogue_seed, num_products, cache_dir)
        )
        self.shop: ShopState | None = None
        self._subgoals: list[Subgoal] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start task ``options["task_id"]`` (or one drawn from the seeded ``np_random``) on the search page."""
        super().reset(seed=seed)
        task_id = choose_task(options, self.np_random, self.num_tasks)
        goal = goal_for_task(self.store, task_id)
        self.shop = ShopState(self.store, goal, self.max_steps, self.invalid_action_penalty, self.reward)
        self._subgoals = make_subgoals(goal)
        return self._observation(), self._info(None)

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Apply one ``search[...]``/``click[...]`` command; an invalid one costs ``invalid_action_penalty`` and changes nothing."""
        if self.shop is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        t = self.shop.step(action)
        return self._observation(), float(t.reward), t.terminated, t.truncated, self._info(t)

    def render(self) -> str | None:
        """The text page for ``render_mode="ansi"``, else None."""
        if self.render_mode == "ansi" and self.shop is not None:
            return self.shop.text_observation()
        return None

    def close(self) -> None:
        """Close the product database connection."""
        self.store.close()

    @property
    def goal(self) -> Goal | None:
        """The current task's goal (None before the first ``reset``)."""
        return self.shop.goal if self.shop is not None else None

    def product(self, asin: str) -> Product | None:
        """The public product page data for ``asin`` (what a shopper sees when opening it)."""
        return self.store.get(asin)

    def _observation(self) -> str:
        assert self.shop is not None
        return fit_text(render_observation(self.shop, self.obs_mode))

    def _info(self, transition: Transition | None) -> dict[str, Any]:
        assert self.shop is not None
        info = state_info(self.shop, transition)
        info[InfoKeys.SUBGOALS] = list(self._subgoals)
        return info


def fit_text(text: str) -> str:
    """``clip_text`` with a fast path: text already inside the observation space is returned as is."""
    if len(text) <= MAX_OBS_CHARS and TEXT_CHARSET.issuperset(text):
        return text
    return clip_text(text)


def configure(
    env: gym.Env,
    *,
    num_products: int,
    obs_mode: str,
    max_steps: int,
    num_tasks: int,
    render_mode: str | None,
    reward: str,
    invalid_action_penalty: float,
) -> None:
    """Check the arguments both WebShop envs take and set them, with the text spaces, on ``env``.

    One place, so the in-process and the HTTP env cannot drift apart in what they accept or expose.
    """
    check_kwargs(num_products=num_products, obs_mode=obs_mode, max_steps=max_steps, num_tasks=num_tasks, render_mode=render_mode)
    check_reward(reward)
    env.reward = reward
    env.obs_mode = obs_mode
    env.max_steps = max_steps
    env.num_tasks = num_tasks
    env.invalid_action_penalty = invalid_action_penalty
    env.render_mode = render_mode
    env.observation_space = text_space(MAX_OBS_CHARS)
    env.action_space = text_space(MAX_ACTION_CHARS)


def check_kwargs(*, num_products: int, obs_mode: str, max_steps: int, num_tasks: int, render_mode: str | None) -> None:
    """Constructor checks shared by both WebShop envs; errors name the argument and what is allowed."""
    if not isinstance(num_products, int) or num_products < 1:
        raise EnvSpecError("num_products", num_products, "an int >= 1")
    if obs_mode not in OBS_MODES:
        raise EnvSpecError("obs_mode", obs_mode, f"one of {OBS_MODES}")
    if not isinstance(max_steps, int) or max_steps < 1:
        raise EnvSpecError("max_steps", max_steps, "an int >= 1")
    if not isinstance(num_tasks, int) or num_tasks < 1:
        raise EnvSpecError("num_tasks", num_tasks, "an int >= 1")
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise EnvSpecError("render_mode", render_mode, f"None or one of {RENDER_MODES}")


def check_reward(reward: str) -> None:
    """The purchase reward rule must be one of ``REWARD_RULES``; "webshop" needs rapidfuzz installed."""
    if reward not in REWARD_RULES:
        raise EnvSpecError("reward", reward, f"one of {REWARD_RULES}")
    if reward == "webshop":
        import importlib.util

        if importlib.util.find_spec("rapidfuzz") is None:
            raise EnvSpecError("reward", reward, "'exact', or install rapidfuzz for 'webshop' (pip install 'hiergym[web]')")


def choose_task(options: dict[str, Any] | None, np_random: np.random.Generator, num_tasks: int) -> int:
    """``options["task_id"]`` when given (checked), else a task drawn with the env's ``np_random``."""
    task_id = (options or {}).get(TASK_ID_OPTION)
    if task_id is None:
        return int(np_random.integers(num_tasks))
    if not isinstance(task_id, int) or isinstance(task_id, bool) or task_id < 0:
        raise EnvSpecError(f"options[{TASK_ID_OPTION!r}]", task_id, "a non-negative int")
    return task_id
