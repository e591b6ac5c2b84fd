"""``hiergym train main-sub``: a :class:`MainSubTrainConfig` from flags or a config file -> one M-GRPO run.

Same style as ``hiergym train llm`` and ``hiergym train marl``: tyro builds the dataclass from flags
(``--agent main-only --mgrpo.group-size 4 --env-kwargs.max-hops 2``), or ``--config-file
run.toml|yaml|json`` gives the values (nested tables = nested configs) with flags on top. CLI
layer: it may print with rich; torch loads only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import tyro

from hiergym.training.main_sub import MainSubTrainConfig


def train_main_sub_command(config: Annotated[MainSubTrainConfig, tyro.conf.arg(name="")] = MainSubTrainConfig(), config_file: Path | None = None) -> None:  # noqa: B008
    """Train a main agent with sub-agents by M-GRPO, or the main agent alone by GRPO (flags, or --config-file run.toml|yaml)."""
    import logging

    from rich.console import Console

    from hiergym.training.config_files import merge_config_file
    from hiergym.training.main_sub import train_main_sub

    config = merge_config_file(config, config_file)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    result = train_main_sub(config)
    curve = ", ".join(f"{tokens}: {acc:.0%}" for tokens, acc in result.eval_curve)
    where = f"run dir: {config.out} (metrics.csv, eval_curve.json, samples)" if config.out is not None else "no run dir (set --out to keep the metrics)"
    Console().print(
        f"[bold]{config.agent}[/] on {config.env_id}: {result.iterations} iterations, {result.tokens} generated tokens\n"
        f"[bold]held-out accuracy by tokens spent[/bold] {curve}\n{where}"
    )
