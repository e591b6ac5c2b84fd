"""``hiergym train marl``: a :class:`MarlTrainConfig` from flags or a config file -> :class:`MarlTrainer`, with a progress bar.

Same style as ``hiergym train llm``: tyro builds the dataclass from flags (``--algo.name qmix
--algo.qmix.lr 5e-4 --env-id hiergym/GoalGrid-v0``), or ``--config-file run.toml|yaml|json`` gives
the values (nested tables = nested configs) with flags on top. CLI layer: it may draw with tqdm /
rich; torch loads only when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import tyro

from hiergym.algos.marl.configs import MarlTrainConfig


def train_marl(config: Annotated[MarlTrainConfig, tyro.conf.arg(name="")] = MarlTrainConfig(), config_file: Path | None = None) -> None:  # noqa: B008
    """Train IQL / VDN / QMIX / subgoal-QMIX on a multi-agent env (flags, or --config-file run.toml|yaml with flags on top)."""
    import logging

    from rich.console import Console
    from tqdm import tqdm

    from hiergym.algos.marl.train import MarlTrainer
    from hiergym.training.config_files import merge_config_file

    config = merge_config_file(config, config_file)
    algo = config.algo.selected
    logging.basicConfig(level=logging.WARNING)
    bar = tqdm(total=config.total_env_steps, unit="step", desc=f"{config.algo.name} {config.env_id}")

    def progress(t_env: int, row: dict[str, Any] | None) -> None:
        bar.update(min(t_env, config.total_env_steps) - bar.n)
        if row is not None:
            bar.set_postfix(eval_return=f"{row['eval_return']:.3f}", success=f"{row['eval_success']:.2f}", eps=row["epsilon"])

    rows = MarlTrainer(config.run_config(), algo, hooks=[progress]).train()
    bar.close()
    last = rows[-1]
    Console().print(
        f"[bold]{config.algo.name}[/] on {config.env_id}: eval return {last['eval_return']:.3f}, success {last['eval_success']:.2f} "
        f"after {last['t_env']} env steps -> {config.run_dir} (metrics.csv, curve.png, checkpoints/)"
    )
