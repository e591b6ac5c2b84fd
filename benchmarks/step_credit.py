"""Where can GiGPO's step credit act? Episode length and anchor-state step groups of a warm-started tiny LM's rollouts.

GiGPO adds a step-level advantage A^S computed inside *step groups*: the turns of one task group
(G rollouts of the same task) that stand in the same anchor state. A turn alone in its step group
gets A^S = 0, and a step group whose turns all have the same discounted return-to-go also gives 0;
only the rest is step credit that GRPO does not have. This script warm-starts the demo's tiny LM
(supervised steps on expert demonstrations), samples ``--tasks`` x ``--group-size`` training
rollouts with it and prints, per setting:

- episode length and success of the rollouts;
- ``grouped_share``: share of turns in a step group of >= 2 turns (the loop logs the same number per
  iteration as ``gigpo/step_grouped_share``), and the same without each episode's first turn (all
  G copies of a task start in the same state, so turn 0 is always grouped and its step group is the
  episode group again);
- ``step_group_size_mean``: mean step-group size per turn (``gigpo/step_group_size_mean``);
- ``anchor_reuse``: turns per distinct anchor within a task group (1 = no state seen twice);
- ``revisit_share``: share of turns whose state the same episode already stood in (loops);
- ``step_signal_share``: share of turns with A^S != 0 (grouped *and* the return-to-go differs);
- ``step_signal_from_failed_groups``: of those, the share in task groups where no rollout succeeded:
  there the return-to-go differs only by step penalties and box pushes, and a state visited early in
  a time-out episode has more penalty ahead than the same state visited late (A^S ranks *when* a
  state was visited, not the action taken in it);
- ``step_adv_turn_corr``: correlation of A^S with the turn index over the turns that have one
  (near +1: step credit mostly says "later visits of a state are better", the time-limit artefact).

    python benchmarks/step_credit.py --settings sokoban-6x6 sokoban-8x8 household --warm-start-steps 300

Settings (``SETTINGS``) are shared with ``benchmarks/gigpo_vs_grpo.py``: the demo's RL defaults
(``DemoConfig``) on another env, episode limit and expert.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hiergym.algos.configs import GiGPOConfig
from hiergym.demo import DEMO_PROMPT, DemoConfig
from hiergym.training import WARM_START_MODEL_DIR, TrainConfig
from hiergym.types import Trajectory

ZERO = 1e-8
TABLE_COLUMNS = ("prompt_tokens", "length_mean", "success", "grouped_share", "grouped_share_after_first_turn", "step_group_size_mean",
                 "anchor_reuse", "revisit_share", "step_signal_share", "step_signal_share_after_first_turn", "step_signal_from_failed_groups", "step_adv_turn_corr")
"""Numbers in the printed table (stats.json keeps all of them)."""


def household_expert(env: Any) -> list[str]:
    """The Household env's shortest plan from the current state (it knows where hidden objects are)."""
    return list(env.expert_plan())


@dataclass(frozen=True)
class Setting:
    """An env for the demo's tiny-LM recipe: id, episode limit, prompt, expert and answer length."""

    env_id: str
    max_episode_steps: int
    expert: str
    template: str | None = str(DEMO_PROMPT)
    """PromptTemplate file (the demo's: the grid alone); None = History's default (task, observation, allowed actions)."""
    history_k: int = 0
    max_new_tokens: int = 6


SETTINGS: dict[str, Setting] = {
    # the demo itself (median optimal solution 4 moves), for reference
    "sokoban-6x6": Setting("hiergym/Sokoban-6x6-1box-v0", 12, "hiergym.demo:sokoban_expert"),
    # median optimal solution 9 moves (90th percentile 14): ~2x the median as the limit, as the demo
    "sokoban-8x8": Setting("hiergym/Sokoban-8x8-2box-v0", 20, "hiergym.demo:sokoban_expert"),
    # expert plan median 6 actions; answers like "put soapbar 1 in/on bathtubbasin 1" are ~15 word-level tokens
    "household": Setting("hiergym/Household-v0", 15, "step_credit:household_expert", template=None, max_new_tokens=16),
}


def train_config(setting: Setting, *, seed: int, out: Path, algo: str = "gigpo", iterations: int = 30, warm_start_steps: int = 800,
                 eval_every: int = 10, eval_episodes: int = 256, **demo: Any) -> TrainConfig:
    """The demo's run (``DemoConfig`` defaults and any of its fields in ``demo``) on ``setting``'s env and expert."""
    base = DemoConfig(iterations=iterations, seed=seed, out=out, algo=algo, eval_every=eval_every, eval_episodes=eval_episodes, progress=False,
                      warm_start_steps=warm_start_steps, warm_start_content_only_steps=min(warm_start_steps * 3 // 4, DemoConfig.warm_start_content_only_steps), **demo)
    cfg = base.to_train_config()
    env = replace(cfg.env, env_id=setting.env_id, max_episode_steps=setting.max_episode_steps, template=setting.template, history_k=setting.history_k)
    return replace(cfg, env=env, warm_start=replace(cfg.warm_start, expert=setting.expert), sampling=replace(cfg.sampling, max_new_tokens=setting.max_new_tokens))


def warm_start_once(cfg: TrainConfig, out: Path) -> Path:
    """Warm-start ``cfg``'s tiny model into ``out/model_warm_start`` (reused when it is there); returns that dir.

    Unlike ``train(iterations=0)`` it skips the held-out evaluation of the random model (every episode
    of it runs to the time limit) and the one after the warm start (the RL runs evaluate at iteration 0).
    """
    from hiergym.training import TrainLoop, warm_start

    model_dir = out / WARM_START_MODEL_DIR
    if (model_dir / "config.json").is_file():
        return model_dir
    shutil.rmtree(out, ignore_errors=True)  # an interrupted warm start is redone
    t0 = time.process_time()
    loop = TrainLoop(replace(cfg, out=out, iterations=0, tensorboard=False))
    try:
        metrics = warm_start(loop.config, loop.agent, loop.make_env, loop.device)
        loop.backend.save_pretrained(model_dir)
        (out / "warm_start.json").write_text(json.dumps({**metrics, "cpu_s": time.process_time() - t0}))
    finally:
        loop.collector.close()
        loop.run.close()
    return model_dir


def step_group_stats(trajectories: Sequence[Trajectory], config: GiGPOConfig) -> dict[str, float]:
    """Episode length, success and the anchor-state step-group numbers of one batch (see the module docstring)."""
    from hiergym.algos import gigpo_trajectory_parts
    from hiergym.info_keys import InfoKeys
    from hiergym.wrappers.anchor_hash import anchor_of

    trajs = [t for t in trajectories if t.turns]
    if not trajs:
        raise ValueError("no trajectory with turns")
    parts = gigpo_trajectory_parts(trajs, config)
    size = parts.step_group_size
    first = np.zeros(size.size, dtype=bool)
    first[np.r_[0, np.cumsum([len(t.turns) for t in trajs])[:-1]]] = True
    per_group: dict[str, list[object]] = {}
    revisits = 0
    for traj in trajs:
        seen: set[object] = set()
        for turn in traj.turns:
            # the estimator's key; a turn without one is a singleton (a fresh object never equals another)
            code = anchor_of(turn.observation, {InfoKeys.ANCHOR: turn.anchor}, config.anchor_fallback) or object()
            revisits += code in seen
            seen.add(code)
            per_group.setdefault(traj.group_id, []).append(code)
    grouped = size >= 2
    solved_groups = {t.group_id for t in trajs if t.success}
    in_failed_group = np.repeat([t.group_id not in solved_groups for t in trajs], [len(t.turns) for t in trajs])
    step_signal = np.abs(parts.step) > ZERO
    turn_index = np.concatenate([np.arange(len(t.turns)) for t in trajs])
    return {
        "episodes": float(len(trajs)),
        "turns": float(size.size),
        "length_mean": float(np.mean([len(t.turns) for t in trajs])),
        "length_median": float(np.median([len(t.turns) for t in trajs])),
        "success": float(np.mean([t.success for t in trajs])),
        "grouped_share": float(grouped.mean()),
        "grouped_share_after_first_turn": float(grouped[~first].mean()) if (~first).any() else 0.0,
        "step_group_size_mean": float(size.mean()),
        "anchor_reuse": float(np.mean([len(c) / len(set(c)) for c in per_group.values()])),
        "revisit_share": revisits / size.size,
        "step_signal_share": float(step_signal.mean()),
        "step_signal_share_after_first_turn": float(step_signal[~first].mean()) if (~first).any() else 0.0,
        "step_signal_from_failed_groups": float(in_failed_group[step_signal].mean()) if step_signal.any() else 0.0,
        "step_adv_turn_corr": _correlation(parts.step[step_signal], turn_index[step_signal]),
        "episode_signal_share": float(np.mean(np.abs(parts.episode) > ZERO)),
    }


def scripted_rollouts(setting: Setting, tasks: Sequence[int], group_size: int, epsilon: float, seed: int = 0) -> list[Trajectory]:
    """G rollouts of each task by the expert that takes a random allowed action with probability ``epsilon``.

    No model: a cheap stand-in for a warm-started policy (an imitation of the expert that errs now and
    then), played through the same env stack (``AnchorHash`` anchors) as training. After a random action
    the expert replans from the state it led to (no plan, e.g. a Sokoban deadlock: random actions).
    """
    from hiergym.info_keys import InfoKeys
    from hiergym.training import TextEnvMaker
    from hiergym.training.config_files import load_entry_point
    from hiergym.types import Turn, group_id_of
    from hiergym.wrappers.anchor_hash import anchor_of

    expert = load_entry_point(setting.expert, "expert")
    make_env = TextEnvMaker(setting.max_episode_steps, setting.history_k, setting.template)
    rng = np.random.default_rng(seed)
    trajectories = []
    for task in tasks:
        for _ in range(group_size):
            env = make_env(setting.env_id)
            obs, info = env.reset(seed=int(task))
            traj = Trajectory(group_id=group_id_of(setting.env_id, int(task)), env_id=setting.env_id, seed=int(task))
            plan: list[str] = []
            stuck = False  # the expert found no plan (a Sokoban deadlock): random actions to the end, no costly re-search
            while True:
                allowed = list(info.get(InfoKeys.ADMISSIBLE_ACTIONS) or [])
                if not (stuck or plan or rng.random() < epsilon):
                    plan = list(expert(env.unwrapped) or [])
                    stuck = not plan
                if stuck or not plan or rng.random() < epsilon:
                    action, plan = allowed[rng.integers(len(allowed))], []
                else:
                    action = plan.pop(0)
                next_obs, reward, terminated, truncated, next_info = env.step(f"<action>{action}</action>")
                traj.turns.append(Turn(observation=obs, action=action, reward=float(reward), terminated=terminated, truncated=truncated, anchor=anchor_of(obs, info)))
                obs, info = next_obs, next_info
                if terminated or truncated:
                    traj.success = bool(info.get(InfoKeys.WON, False))
                    break
            traj.episode_return = float(sum(traj.rewards))
            env.close()
            trajectories.append(traj)
    return trajectories


def prompt_tokens(setting: Setting, seeds: Sequence[int]) -> float:
    """Mean word-level tokens (the tiny tokenizer's ``TOKEN_PATTERN``) of the first prompt of ``seeds``: the LM's cost per turn."""
    import re

    from hiergym.agents.tiny import TOKEN_PATTERN
    from hiergym.training import TextEnvMaker

    make_env = TextEnvMaker(setting.max_episode_steps, setting.history_k, setting.template)
    pattern = re.compile(TOKEN_PATTERN)
    return float(np.mean([len(pattern.findall(make_env(setting.env_id).reset(seed=int(s))[0])) for s in seeds]))


def _correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation (0 when either side has no spread)."""
    if x.size < 2 or x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def measure_lm(name: str, setting: Setting, args: argparse.Namespace) -> dict[str, float]:
    """Warm start the tiny LM on ``setting`` (or take ``--model``), sample training rollouts, return their step-group stats."""
    from hiergym.training import TrainLoop
    from hiergym.training.loop import run_stream

    t0 = time.process_time()
    out = args.out / name
    cfg = train_config(setting, seed=args.seed, out=out / "warm", warm_start_steps=args.warm_start_steps, warm_start_episodes=args.warm_start_episodes,
                       group_size=args.group_size, tasks_per_iteration=args.tasks)
    model_dir = args.model or warm_start_once(cfg, out / "warm")
    warm_cpu = time.process_time() - t0
    cfg = replace(cfg, out=out / "rollouts", model=replace(cfg.model, path=str(model_dir)), warm_start=replace(cfg.warm_start, steps=0, content_only_steps=0), tensorboard=False)
    shutil.rmtree(cfg.out, ignore_errors=True)
    loop = TrainLoop(cfg)
    try:
        trajs, _ = loop.collector.collect(cfg.train_tasks(0), cfg.group_size, stream=run_stream(cfg.seed, "train", 0))
    finally:
        loop.collector.close()
        loop.run.close()
    stats = step_group_stats(trajs, cfg.algo.gigpo)
    stats.update(cpu_s=time.process_time() - t0 - warm_cpu)
    if args.model is None:
        stats.update(warm_start_steps=float(args.warm_start_steps), cpu_warm_start_s=warm_cpu)
    return stats


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}" if value % 1 else f"{value:.0f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--settings", nargs="*", default=list(SETTINGS), choices=list(SETTINGS), help="settings measured with scripted policies")
    p.add_argument("--lm-settings", nargs="*", default=["sokoban-8x8"], choices=list(SETTINGS), help="settings measured with a warm-started tiny LM")
    p.add_argument("--epsilons", type=float, nargs="+", default=[0.1, 0.3, 1.0], help="random-action rates of the scripted expert (1 = random policy)")
    p.add_argument("--model", type=Path, default=None, help="a warm-started model dir to reuse (e.g. gigpo_vs_grpo's warm-seed0/model_warm_start)")
    p.add_argument("--warm-start-steps", type=int, default=300)
    p.add_argument("--warm-start-episodes", type=int, default=500, help="expert demonstrations")
    p.add_argument("--tasks", type=int, default=8, help="task groups sampled")
    p.add_argument("--group-size", type=int, default=8, help="rollouts per task (G)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/step_credit"))
    p.add_argument("--results", type=Path, default=None, help="directory to keep stats.json and the printed table")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=Path(__file__).parent).stdout.strip()
    results = {}
    tasks = range(args.tasks)
    for name in args.settings:
        setting = SETTINGS[name]
        tokens = prompt_tokens(setting, tasks)
        for eps in args.epsilons:
            t0 = time.process_time()
            results[f"{name}, expert eps {eps:g}"] = {**step_group_stats(scripted_rollouts(setting, tasks, args.group_size, eps, args.seed), GiGPOConfig(group_size=args.group_size)),
                                                       "prompt_tokens": tokens, "cpu_s": time.process_time() - t0}
    for name in args.lm_settings:
        results[f"{name}, tiny LM"] = {**measure_lm(name, SETTINGS[name], args), "prompt_tokens": prompt_tokens(SETTINGS[name], tasks)}
    for name, r in results.items():
        logging.info("%s: %s", name, r)
    keys = TABLE_COLUMNS
    model = "no LM" if not args.lm_settings else f"tiny LM from {args.model}" if args.model else f"tiny LM warm start {args.warm_start_steps} steps on {args.warm_start_episodes} demonstrations"
    lines = [f"commit {commit}; seed {args.seed}; {args.tasks} tasks x {args.group_size} rollouts; {model}",
             "| " + " | ".join(["setting, policy", *keys]) + " |", "|" + " --- |" * (len(keys) + 1)]
    lines += ["| " + " | ".join([name, *(_cell(r.get(k)) for k in keys)]) + " |" for name, r in results.items()]
    print("\n".join(lines))
    if args.results:
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / "stats.json").write_text(json.dumps({"commit": commit, "args": {k: str(v) for k, v in vars(args).items()}, "stats": results}, indent=1))
        (args.results / "report.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
