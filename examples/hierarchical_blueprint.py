"""A hierarchical agent in blueprint mode (HiMAC style) trained with HRPO on a Household task, tiny model, CPU.

The planner writes a numbered blueprint once per episode (``<plan>1. ... 2. ...</plan>``); the executor
sees the task, its current subgoal and its own segment history and answers ``<action>...</action>``.
``SubgoalHooks`` checks each subgoal, pays the subgoal bonus and records the segments; HRPO gives the
planner tokens the plan's relative return (macro) and the executor tokens the segment-relative
advantage (micro). Both roles are first warm-started on the solver: the env's subgoals in the order
the solver reaches them are the blueprint demonstration, its actions the executor's.

    python examples/hierarchical_blueprint.py                 # small: ~35 CPU-seconds (measured; wall time grows with load)
    python examples/hierarchical_blueprint.py --iterations 40 --warm-start-steps 300 --two-models --schedule co-evolution

Same run from the command line:

    hiergym train llm --agent hierarchical --mode blueprint --algo.name hrpo --env.env-id hiergym/Household-PickClean-v0 ...

This is a runnable recipe, not a measurement: with the small defaults it shows the pieces working
(metrics hier/* and hrpo/* in the run dir), not learning.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from hiergym.agents import SamplingParams, TinyModelSpec
from hiergym.algos import HRPOConfig, TrainerConfig
from hiergym.training import AlgoConfig, EnvConfig, HierarchyTrainConfig, ModelConfig, TrainConfig, WarmStartConfig, train


def config(args: argparse.Namespace, mode: str) -> TrainConfig:
    """The run: tiny model, HRPO, a hierarchical agent in ``mode``, warm start on the solver."""
    return TrainConfig(
        env=EnvConfig(env_id=args.env_id, max_episode_steps=args.max_episode_steps),
        model=ModelConfig(tiny=TinyModelSpec(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2), device="cpu"),
        algo=AlgoConfig(name="hrpo", hrpo=HRPOConfig(group_size=args.group_size)),
        agent="hierarchical",
        mode=mode,  # type: ignore[arg-type]
        hierarchy=HierarchyTrainConfig(max_segment_steps=args.k, two_models=args.two_models, schedule=args.schedule, planner_iterations=2, executor_iterations=2, plan_max_new_tokens=40),
        trainer=TrainerConfig(lr=args.lr),
        sampling=SamplingParams(max_new_tokens=16),
        warm_start=WarmStartConfig(expert="hiergym.training.hierarchy:expert_actions", episodes=args.warm_start_episodes, steps=args.warm_start_steps, batch_size=16, lr=2e-3),
        out=Path(args.out) / mode,
        iterations=args.iterations,
        tasks_per_iteration=args.tasks,
        num_slots=args.tasks * args.group_size,
        eval_every=max(args.iterations, 1),
        eval_episodes=args.eval_episodes,
        checkpoint_every=max(args.iterations, 1),
        progress=False,
        tensorboard=False,
    )


def parse(argv: list[str] | None = None, *, mode: str = "blueprint") -> argparse.Namespace:
    p = argparse.ArgumentParser(description=f"HRPO with a {mode}-mode hierarchical agent on a tiny model (CPU)")
    p.add_argument("--env-id", default="hiergym/Household-PickClean-v0")
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--tasks", type=int, default=2, help="task groups per iteration")
    p.add_argument("--group-size", type=int, default=2, help="plans (rollouts) per task")
    p.add_argument("--max-episode-steps", type=int, default=10)
    p.add_argument("--k", type=int, default=4, help="segment limit: executor steps per subgoal at most")
    p.add_argument("--warm-start-steps", type=int, default=20)
    p.add_argument("--warm-start-episodes", type=int, default=8)
    p.add_argument("--eval-episodes", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--two-models", action="store_true", help="planner and executor as two models (blueprint mode only)")
    p.add_argument("--schedule", choices=["joint", "co-evolution"], default="joint")
    p.add_argument("--out", default="runs/examples/hierarchical")
    return p.parse_args(argv)


def main(argv: list[str] | None = None, *, mode: str = "blueprint") -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args = parse(argv, mode=mode)
    result = train(config(args, mode))
    curve = ", ".join(f"{it}: {s:.0%}" for it, s in sorted(result.eval_success.items()))
    print(f"held-out success by iteration: {curve}\nrun dir (metrics.csv with hier/* and hrpo/* columns): {result.run_dir}")


if __name__ == "__main__":
    main()
