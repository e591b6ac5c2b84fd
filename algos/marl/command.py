"""``hiergym train marl``: flags -> configs -> :class:`~hiergym.algos.marl.train.MarlTrainer`, with a progress bar.

This is CLI layer (it may draw with tqdm / rich); it imports torch only when the command runs.
"""

from __future__ import annotations

import json
from typing import Any

from hiergym.algos.marl.configs import Algo, MarlRunConfig, make_algo_config
from hiergym.error import ConfigError


def parse_overrides(items: tuple[str, ...]) -> dict[str, Any]:
    """``("lr=5e-4", "double_q=false")`` -> ``{"lr": 0.0005, "double_q": False}`` (values parsed as JSON, else str)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError("set", item, "KEY=VALUE, e.g. --set lr=5e-4 td_lambda=0")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def train_marl(
    algo: Algo = "qmix",
    env: str = "hiergym/GoalGrid-v0",
    env_kwargs: str = "{}",
    total_env_steps: int = 200_000,
    n_envs: int = 8,
    seed: int = 0,
    run_dir: str = "runs/marl",
    resume: bool = False,
    eval_interval_steps: int = 10_000,
    eval_episodes: int = 32,
    checkpoint_interval_steps: int = 50_000,
    episode_limit: int = 0,
    train_steps_per_collect: int = 1,
    set: tuple[str, ...] = (),  # noqa: A002 - the flag reads naturally as --set
) -> None:
    """Train IQL / VDN / QMIX / subgoal-QMIX on a multi-agent env; writes metrics.csv, learning_curve.png, checkpoints.

    Args:
        algo: Learner.
        env: Registered multi-agent env id.
        env_kwargs: JSON object of env constructor kwargs, e.g. '{"size": 5, "max_cycles": 25}'.
        total_env_steps: Stop after this many env steps.
        n_envs: Env copies stepped together.
        seed: Run seed (torch, sampler, env seed stream).
        run_dir: Output directory.
        resume: Continue from run_dir/checkpoint.pt.
        eval_interval_steps: Greedy evaluation every this many env steps.
        eval_episodes: Episodes per evaluation.
        checkpoint_interval_steps: Checkpoint every this many env steps.
        episode_limit: Truncate episodes (0 = the env's max_cycles).
        train_steps_per_collect: Gradient steps per collection of n_envs episodes.
        set: Algorithm config overrides KEY=VALUE (e.g. lr=5e-4 goal_horizon=6); see the config dataclasses.
    """
    import logging

    from tqdm import tqdm

    from hiergym.algos.marl.train import MarlTrainer

    try:
        kwargs = json.loads(env_kwargs)
    except json.JSONDecodeError as e:
        raise ConfigError("env_kwargs", env_kwargs, f"a JSON object ({e})") from e
    run = MarlRunConfig(
        env_id=env,
        env_kwargs=kwargs,
        seed=seed,
        total_env_steps=total_env_steps,
        n_envs=n_envs,
        episode_limit=episode_limit,
        train_steps_per_collect=train_steps_per_collect,
        eval_interval_steps=eval_interval_steps,
        eval_episodes=eval_episodes,
        checkpoint_interval_steps=checkpoint_interval_steps,
        run_dir=run_dir,
        resume=resume,
    )
    config = make_algo_config(algo, **parse_overrides(set))
    logging.basicConfig(level=logging.WARNING)
    bar = tqdm(total=total_env_steps, unit="step", desc=f"{algo} {env}")

    def progress(t_env: int, row: dict[str, Any] | None) -> None:
        bar.update(min(t_env, total_env_steps) - bar.n)
        if row is not None:
            bar.set_postfix(eval_return=f"{row['eval_return']:.3f}", success=f"{row['eval_success']:.2f}", eps=row["epsilon"])

    trainer = MarlTrainer(run, config, hooks=[progress])
    rows = trainer.train()
    bar.close()
    last = rows[-1]
    from rich.console import Console

    Console().print(
        f"[bold]{algo}[/] on {env}: eval return {last['eval_return']:.3f}, success {last['eval_success']:.2f} "
        f"after {last['t_env']} env steps -> {run_dir}/metrics.csv, learning_curve.png, checkpoint.pt"
    )
