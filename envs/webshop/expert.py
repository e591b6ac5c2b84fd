"""A scripted expert (upper bound, demonstrations) and a random-click baseline (lower bound).

Both act from the observation's ``info`` (admissible actions, anchor state) plus the goal; the
expert also reads the public product pages (``env.unwrapped.product(asin)``) to choose, so it
works in-process and over HTTP alike. Policies are plain callables ``act(info) -> command``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hiergym.envs.webshop.catalogue import Product
from hiergym.envs.webshop.instructions import Goal
from hiergym.envs.webshop.reward import achievable_reward, is_matching_product
from hiergym.envs.webshop.state import (
    BACK_TO_SEARCH,
    BUY_NOW,
    NEXT_PAGE,
    PAGE_ITEM,
    PAGE_RESULTS,
    PAGE_SEARCH,
    PREV_PAGE,
    SEARCH_ACTION_HINT,
    VIEW_MAIN,
)
from hiergym.info_keys import InfoKeys
from hiergym.types import Trajectory, Turn, group_id_of

MAX_EXPERT_RESULT_PAGES = 5
"""Result pages the expert looks through before settling for the best product it saw."""
RANDOM_QUERY_WORDS = 4
NAV_LABELS = frozenset({BACK_TO_SEARCH, NEXT_PAGE, PREV_PAGE})
_CLICK_RE = re.compile(r"^click\[(.*)\]$")

Lookup = Callable[[str], "Product | None"]


def clickable(info: dict[str, Any]) -> list[str]:
    """The labels of the ``click[...]`` commands in ``info["admissible_actions"]``."""
    return [m.group(1) for a in info[InfoKeys.ADMISSIBLE_ACTIONS] if (m := _CLICK_RE.match(a))]


def expert_query(goal: Goal) -> str:
    """What the expert types: the goal's attributes and product type (words of the instruction)."""
    return " ".join([*goal.attributes, goal.product_type])


@dataclass
class ExpertPolicy:
    """Search with the goal's words, open a product that satisfies the goal, pick its options, buy."""

    goal: Goal
    lookup: Lookup
    pages_seen: int = 0

    def __call__(self, info: dict[str, Any]) -> str:
        page, _, _, _, view, selected = info[InfoKeys.ANCHOR_STATE]
        if page == PAGE_SEARCH:
            return f"search[{expert_query(self.goal)}]"
        if page == PAGE_RESULTS:
            return self._choose_result(clickable(info))
        if page == PAGE_ITEM and view != VIEW_MAIN:
            return f"click[{PREV_PAGE}]"
        return self._on_item(clickable(info), dict(selected))

    def _choose_result(self, labels: list[str]) -> str:
        self.pages_seen += 1
        products = [p for p in map(self.lookup, (lb for lb in labels if lb not in NAV_LABELS)) if p is not None]
        for p in products:
            if is_matching_product(self.goal, p):
                return f"click[{p.asin.lower()}]"
        if NEXT_PAGE in labels and self.pages_seen < MAX_EXPERT_RESULT_PAGES:
            return f"click[{NEXT_PAGE}]"
        if not products:
            return f"click[{BACK_TO_SEARCH}]"
        best = max(products, key=lambda p: achievable_reward(self.goal, p))
        return f"click[{best.asin.lower()}]"

    def _on_item(self, labels: list[str], selected: dict[str, str]) -> str:
        for kind, value in self.goal.options:
            if value in labels and selected.get(kind) != value:
                return f"click[{value}]"
        return f"click[{BUY_NOW}]"


@dataclass
class RandomPolicy:
    """The lower bound: search a few random instruction words, then click uniformly at random."""

    goal: Goal
    rng: random.Random

    def __call__(self, info: dict[str, Any]) -> str:
        if info[InfoKeys.ADMISSIBLE_ACTIONS] == [SEARCH_ACTION_HINT]:
            words = self.goal.instruction.split()
            return f"search[{' '.join(self.rng.sample(words, min(RANDOM_QUERY_WORDS, len(words))))}]"
        return self.rng.choice(info[InfoKeys.ADMISSIBLE_ACTIONS])


def run_episode(env: Any, make_policy: Callable[[Goal, Any], Callable[[dict], str]], seed: int, env_id: str = "") -> Trajectory:
    """Play one episode with the policy ``make_policy(goal, env.unwrapped)`` and record it."""
    obs, info = env.reset(seed=seed)
    policy = make_policy(env.unwrapped.goal, env.unwrapped)
    turns: list[Turn] = []
    terminated = truncated = False
    while not (terminated or truncated):
        action = policy(info)
        next_obs, reward, terminated, truncated, info = env.step(action)
        turns.append(
            Turn(observation=obs, action=action, raw_action=action, reward=float(reward), terminated=terminated,
                 truncated=truncated, action_valid=bool(info[InfoKeys.ACTION_VALID]))
        )
        obs = next_obs
    return Trajectory(
        group_id=group_id_of(env_id, seed), env_id=env_id, seed=seed, turns=turns,
        episode_return=sum(t.reward for t in turns), success=bool(info[InfoKeys.WON]),
    )


def expert(goal: Goal, env: Any) -> ExpertPolicy:
    """``make_policy`` for the scripted expert."""
    return ExpertPolicy(goal, env.product)


def random_baseline(seed: int) -> Callable[[Goal, Any], RandomPolicy]:
    """``make_policy`` for the random-click baseline with its own seeded RNG."""
    return lambda goal, env: RandomPolicy(goal, random.Random(seed))


@dataclass(frozen=True)
class Evaluation:
    """What ``evaluate`` measured over a set of seeds: episode count, success rate, mean final reward and mean length."""

    episodes: int
    success_rate: float
    mean_reward: float
    mean_steps: float


def evaluate(env: Any, make_policy: Callable[[Goal, Any], Callable[[dict], str]], seeds: Iterable[int]) -> Evaluation:
    """Success rate (r = 1), mean final reward and mean episode length over ``seeds``."""
    trajectories = [run_episode(env, make_policy, s) for s in seeds]
    n = len(trajectories)
    final = [t.turns[-1].reward if t.turns and t.turns[-1].terminated else 0.0 for t in trajectories]
    return Evaluation(
        episodes=n,
        success_rate=sum(t.success for t in trajectories) / n,
        mean_reward=sum(final) / n,
        mean_steps=sum(len(t) for t in trajectories) / n,
    )


def demonstrations(env: Any, seeds: Iterable[int], env_id: str = "hiergym/WebShop-v0") -> list[Trajectory]:
    """Expert trajectories (won ones only) for imitation learning or SFT warm starts."""
    return [t for t in (run_episode(env, expert, s, env_id) for s in seeds) if t.success]

