"""Text observations for LLM agents: ``describe(env, agent)`` is what an agent reads each step.

With ``obs_mode="text"`` the grid envs return this text as the observation (a printable
``spaces.Text``) and accept action names (``"up"``, ``"load"``, ``"interact"``; also
``north/south/west/east``, ``stay/wait``) as actions. The view is the same partial window the
vector observation encodes, drawn as characters, so text and vector agents see the same thing.
"""

from __future__ import annotations

from typing import Any

from ..common import MAX_OBS_CHARS, clip_text
from .grid import char_window


def describe(env: Any, agent: str) -> str:
    """The printable text observation of ``agent`` in a ``GridTaskEnv`` (current state)."""
    row, col = env.position(agent)
    radius = env.view_radius
    view = "\n".join(f"  {line}" for line in char_window(env.char_grid(), (row, col), radius))
    lines = [
        f"Task: {env.task_text}",
        f"You are {agent} at row {row}, col {col} (grid {env.shape[0]}x{env.shape[1]}). "
        f"Step {env.cycle} of {env.max_cycles}.",
    ]
    status = env.status_text(agent)
    if status:
        lines.append(status)
    lines += [
        f"Your view (radius {radius}, you are at the centre):",
        view,
        f"Legend: {env.LEGEND}.",
        f"Legal actions: {', '.join(env.legal_actions(agent))}.",
    ]
    return clip_text("\n".join(lines), MAX_OBS_CHARS)
