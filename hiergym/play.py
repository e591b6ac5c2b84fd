"""A person plays a text env in the terminal (``hiergym play ENV_ID``)."""

from __future__ import annotations

from collections.abc import Callable

from hiergym.info_keys import InfoKeys
from hiergym.registration import make

QUIT_WORDS = frozenset({"quit", "exit", "q"})


def play_text_env(
    env_id: str,
    *,
    seed: int = 0,
    max_turns: int = 500,
    read: Callable[[str], str] = input,
    write: Callable[[str], None] = print,
) -> float:
    """Run one episode with commands typed by a person; returns the episode return.

    ``read``/``write`` default to the terminal and are injectable for tests.
    """
    env = make(env_id)
    obs, info = env.reset(seed=seed)
    total = 0.0
    try:
        for _ in range(max_turns):
            write(_render(obs, info))
            try:
                command = read("> ").strip()
            except EOFError:
                break
            if command.lower() in QUIT_WORDS:
                break
            obs, reward, terminated, truncated, info = env.step(command)
            total += float(reward)
            write(f"reward {reward:+.2f}   return {total:+.2f}")
            if terminated or truncated:
                write(_render(obs, info))
                write("You won!" if info.get(InfoKeys.WON) else ("Time is up." if truncated else "Episode over."))
                break
    finally:
        env.close()
    return total


def _render(obs: object, info: dict) -> str:
    text = obs if isinstance(obs, str) else f"<{type(obs).__name__} observation>"
    actions = info.get(InfoKeys.ADMISSIBLE_ACTIONS)
    lines = [str(text)]
    if actions:
        lines.append("actions: " + " | ".join(actions))
    return "\n".join(lines)
