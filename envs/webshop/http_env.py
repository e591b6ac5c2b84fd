"""``hiergym/WebShop-http-v0``: the same WebShop task driven over HTTP against a running site.

``base_url`` points at ``hiergym serve webshop`` (or any host running ``create_app``). Without
``base_url`` the env starts its own server on 127.0.0.1 with an ephemeral port in a background
thread and stops it on ``close()``, so ``gymnasium.make("hiergym/WebShop-http-v0")`` works
alone (and the generic env checker runs on it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import gymnasium as gym

from hiergym.envs.common import INVALID_ACTION_PENALTY
from hiergym.envs.webshop.catalogue import Product
from hiergym.envs.webshop.env import (
    DEFAULT_MAX_STEPS,
    DEFAULT_NUM_TASKS,
    RENDER_MODES,
    choose_task,
    configure,
    fit_text,
)
from hiergym.envs.webshop.reward import DEFAULT_REWARD_RULE
from hiergym.envs.webshop.instructions import Goal
from hiergym.envs.webshop.state import replace_surrogates
from hiergym.envs.webshop.store import is_asin
from hiergym.info_keys import InfoKeys
from hiergym.types import Subgoal

DEFAULT_TIMEOUT_S = 30.0


def _tuples(x: Any) -> Any:
    """JSON lists back to the tuples the in-process env reports (anchor states are hashable)."""
    return tuple(_tuples(v) for v in x) if isinstance(x, list) else x


class WebShopHttpEnv(gym.Env):
    """``WebShopEnv`` over the site's JSON API: same spaces, rewards, info and seeding.

    **Arguments.** ``base_url`` (e.g. ``"http://127.0.0.1:3000"``; None starts a private local
    server), ``obs_mode``, ``max_steps``, ``num_tasks``, ``reward`` as in ``WebShopEnv``; ``num_products``,
    ``catalogue_seed``, ``cache_dir`` configure the private server only; ``timeout`` (seconds
    per request). The invalid-action penalty is the server's (-0.1).

    Task ``k`` is the same task as in ``WebShopEnv`` (same catalogue), and the same seed draws
    the same ``k``, so both envs give identical trajectories. ``subgoals`` carry a ``check``
    that reads the ids the server reported achieved. The env keeps one server session for its
    life (``reset`` starts the new task in it, ``close`` deletes it). Actions longer than the API limit
    (4,096 characters) are cut to it before sending; no valid action is that long. Lone
    surrogates become U+FFFD before sending, as ``WebShopEnv`` does before parsing (UTF-8 and
    JSON cannot carry them).

    **Version history.** v0: first release.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        base_url: str | None = None,
        obs_mode: Literal["text", "html"] = "text",
        max_steps: int = DEFAULT_MAX_STEPS,
        num_tasks: int = DEFAULT_NUM_TASKS,
        num_products: int = 1000,
        catalogue_seed: int = 0,
        cache_dir: str | Path | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        render_mode: str | None = None,
        reward: Literal["exact", "webshop"] = DEFAULT_REWARD_RULE,
    ):
        import httpx

        from hiergym.envs.webshop.server import MAX_API_ACTION_CHARS

        configure(
            self, num_products=num_products, obs_mode=obs_mode, max_steps=max_steps, num_tasks=num_tasks,
            render_mode=render_mode, reward=reward, invalid_action_penalty=INVALID_ACTION_PENALTY,
        )
        self._server = None
        if base_url is None:
            from hiergym.envs.webshop.server import RunningServer, create_app

            app = create_app(num_products=num_products, catalogue_seed=catalogue_seed, cache_dir=cache_dir, num_tasks=num_tasks)
            self._server = RunningServer(app).start()
            base_url = self._server.url
        self.base_url = base_url
        self._client = httpx.Client(base_url=base_url, timeout=timeout)
        self._max_action_chars = MAX_API_ACTION_CHARS
        self.session_id: str | None = None
        self.goal: Goal | None = None
        self.achieved: list[str] = []
        self._obs = ""

    def _post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self._client.post(path, json=payload)
        response.raise_for_status()
        return response.json()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start a task in this env's server session (created on first use, or again if the server dropped it)."""
        from hiergym.envs.webshop.server import goal_from_dict

        super().reset(seed=seed)
        task_id = choose_task(options, self.np_random, self.num_tasks)
        body = {"task_id": task_id, "max_steps": self.max_steps, "obs_mode": self.obs_mode, "reward": self.reward}
        data = None
        if self.session_id is not None:  # one session for the env's life: a reset creates nothing on the server
            response = self._client.post(f"/api/sessions/{self.session_id}/reset", json=body)
            if response.status_code != 404:  # 404: the server dropped it (restart, idle expiry); start another
                response.raise_for_status()
                data = response.json()
        if data is None:
            data = self._post("/api/sessions", body)
        self.session_id = data["session_id"]
        self.goal = goal_from_dict(data["goal"])
        return self._observe(data["observation"]), self._info(data["info"])

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict[str, Any]]:
        """Send one command to the server and return its transition, as ``WebShopEnv.step`` would."""
        if self.session_id is None:
            raise gym.error.ResetNeeded("call reset() before step()")
        if isinstance(action, bytes):
            action = action.decode("utf-8", errors="replace")
        text = replace_surrogates(action[: self._max_action_chars]) if isinstance(action, str) else ""
        data = self._post(f"/api/sessions/{self.session_id}/step", {"action": text})
        return (
            self._observe(data["observation"]),
            float(data["reward"]),
            bool(data["terminated"]),
            bool(data["truncated"]),
            self._info(data["info"]),
        )

    def product(self, asin: str) -> Product | None:
        """The product page data for ``asin`` from the site (``GET /api/products/{asin}``)."""
        if not is_asin(asin):
            return None  # no such product, as in WebShopEnv (and nothing odd goes into a URL)
        response = self._client.get(f"/api/products/{asin}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        d = response.json()
        return Product(**{
            **d,
            "features": tuple(d["features"]),
            "attributes": tuple(d["attributes"]),
            "options": {k: tuple(v) for k, v in d["options"].items()},
            "reviews": tuple(d["reviews"]),
        })

    def render(self) -> str | None:
        """The last observation for ``render_mode="ansi"``, else None."""
        return self._obs if self.render_mode == "ansi" else None

    def close(self) -> None:
        """Delete the server session, close the HTTP client and stop the private server, if any."""
        self._end_session()
        self._client.close()
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _end_session(self) -> None:
        if self.session_id is not None:
            self._client.delete(f"/api/sessions/{self.session_id}")
            self.session_id = None

    def _observe(self, text: str) -> str:
        self._obs = fit_text(text)
        return self._obs

    def _info(self, raw: dict[str, Any]) -> dict[str, Any]:
        info = dict(raw)
        info[InfoKeys.ANCHOR_STATE] = _tuples(raw[InfoKeys.ANCHOR_STATE])
        self.achieved = list(raw[InfoKeys.SUBGOALS_ACHIEVED])
        info[InfoKeys.SUBGOALS] = [
            Subgoal(id=s["id"], text=s["text"], target=s["target"], check=lambda env, sid=s["id"]: sid in env.unwrapped.achieved)
            for s in raw[InfoKeys.SUBGOALS]
        ]
        return info
