"""Progress bars (tqdm, on stderr) for the phases that take more than a few seconds.

Training phases (warm start, evaluation) follow the run's ``TrainConfig.progress`` flag. Builds inside
envs (TextWorld game generation, the WebShop catalogue) have no config to ask, so they follow
``BUILD_PROGRESS``: ``None`` (default) shows a bar only when stderr is a terminal and the build takes
longer than ``BUILD_DELAY_S`` (tqdm's own rule: ``disable=None``), so logs and CI output stay clean;
``True``/``False`` force it on/off, e.g. ``hiergym.progress.BUILD_PROGRESS = False``.
The environment variable ``HIERGYM_PROGRESS=0``/``1`` sets the default.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

PROGRESS_ENV_VAR = "HIERGYM_PROGRESS"

BUILD_PROGRESS: bool | None = {"0": False, "1": True}.get(os.environ.get(PROGRESS_ENV_VAR, ""))
"""Bars of env-side builds: True on, False off, None only on a terminal (see the module docstring)."""

BUILD_DELAY_S = 1.0
"""A build bar appears only once the build has run this long (quick, cached builds show nothing)."""


def progress_bar(total: int | None, desc: str, *, enabled: bool | None, unit: str = "it", leave: bool = False, delay: float = 0.0) -> Any:
    """A tqdm bar; ``enabled=None`` means "only when stderr is a terminal" (tqdm's ``disable=None``)."""
    from tqdm.auto import tqdm

    disable = None if enabled is None else not enabled
    return tqdm(total=total, desc=desc, unit=unit, disable=disable, leave=leave, delay=delay, dynamic_ncols=True)


def build_progress(total: int | None, desc: str, *, unit: str = "it", delay: float | None = None) -> Any:
    """A bar for an env-side build, shown per ``BUILD_PROGRESS`` once ``delay`` (default ``BUILD_DELAY_S``) seconds have passed.

    tqdm draws a delayed bar at its next update, so a build made of a few long stages passes ``delay=0``.
    """
    return progress_bar(total, desc, enabled=BUILD_PROGRESS, unit=unit, delay=BUILD_DELAY_S if delay is None else delay)


@contextlib.contextmanager
def episode_progress(collector: Any, total: int, desc: str, *, enabled: bool) -> Iterator[Any]:
    """A bar over finished episodes while the block runs: a hook on ``collector.on_episode``, removed after.

    Shows the running success rate of the episodes finished so far.
    """
    bar = progress_bar(total, desc, enabled=enabled, unit="episode")
    won = done = 0

    def count(trajectory: Any) -> None:
        nonlocal won, done
        won += bool(getattr(trajectory, "success", False))
        done += 1
        bar.set_postfix(success=f"{won / done:.2f}", refresh=False)
        bar.update(1)

    collector.on_episode.append(count)
    try:
        yield bar
    finally:
        collector.on_episode.remove(count)
        bar.refresh()  # draw the final count and success once: updates within tqdm's mininterval are not drawn
        bar.close()
