"""The hierarchical agent in a training run: building it, the co-evolution schedule, its metrics and its demonstrations.

- ``roles_to_train(config, iteration)``: which generation roles carry loss this iteration (``None`` =
  all). ``joint``: every role, every iteration. ``co-evolution`` (HiMAC): ``planner_iterations``
  with only planner tokens, then ``executor_iterations`` with only executor tokens, repeated.
  With two models the frozen role's model gets no optimiser step at all (its weights stay
  bit-identical, tested); with one shared model the frozen role's tokens carry no loss, but the
  shared weights still move through the other role's tokens.
- ``hierarchy_metrics``: plan format rate, plan length, segments per episode and their success.
- ``hierarchical_demonstrations``: warm-start data from an expert's action list. The env's subgoals
  in the order the expert achieves them are the blueprint demonstration (the planner's answer);
  each action, with the subgoal whose segment it belongs to, is an executor demonstration
  (switch mode: the answer opens a segment with ``SWITCH`` and the subgoal, else ``KEEP``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np

from hiergym.agents.hierarchical import EXECUTOR, KEEP_PREFIX, PLANNER, SWITCH_PREFIX, TASK_FALLBACK, HierarchicalAgent
from hiergym.agents.hierarchical_prompts import ANSWER_TAGS, HierarchicalPrompts, format_blueprint
from hiergym.info_keys import InfoKeys
from hiergym.training.configs import TrainConfig
from hiergym.types import Generation, Subgoal, Trajectory, Turn, group_id_of

logger = logging.getLogger(__name__)

PLANNER_MODEL_DIR = "planner"
"""Run-dir subfolder of the planner model when planner and executor are two models (``hierarchy.two_models``)."""


def build_hierarchical_agent(config: TrainConfig, backend: Any, planner_backend: Any | None = None) -> HierarchicalAgent:
    """The run's ``HierarchicalAgent``: ``backend`` executes (and plans too unless ``planner_backend`` is given)."""
    if planner_backend is None:
        return HierarchicalAgent(backend, config=config.hierarchy.agent_config(config.mode), sampling=config.sampling)
    return HierarchicalAgent(planner_backend, backend, config=config.hierarchy.agent_config(config.mode), sampling=config.sampling)


def phase_of(config: TrainConfig, iteration: int) -> str:
    """``joint``, or in co-evolution the phase of ``iteration``: ``planner`` for the first P of every P + E, then ``executor``."""
    h = config.hierarchy
    if h.schedule == "joint":
        return "joint"
    return PLANNER if iteration % (h.planner_iterations + h.executor_iterations) < h.planner_iterations else EXECUTOR


def roles_to_train(config: TrainConfig, iteration: int) -> Collection[str] | None:
    """The generation roles that carry loss at ``iteration`` (None: all of them)."""
    if not config.hierarchical:
        return None
    phase = phase_of(config, iteration)
    return None if phase == "joint" else {phase}


def hierarchy_metrics(trajectories: Sequence[Trajectory], prefix: str = "") -> dict[str, float]:
    """Planner and segment numbers of a batch: plan format rate, plan length, segments and their success, tokens per role."""
    plans = [t.info for tr in trajectories for t in tr.turns if InfoKeys.PLAN_FORMAT_OK in t.info]
    segments = [s for tr in trajectories for s in tr.segments]
    tokens = {PLANNER: 0, EXECUTOR: 0}
    for tr in trajectories:
        for turn in tr.turns:
            for g in turn.generations:
                if g.role in tokens:
                    tokens[g.role] += len(g.response_ids)
    n = max(len(trajectories), 1)
    out = {
        f"{prefix}hier/segments_per_episode": len(segments) / n,
        f"{prefix}hier/segment_achieved": float(np.mean([s.achieved for s in segments])) if segments else 0.0,
        f"{prefix}hier/planner_tokens_per_episode": tokens[PLANNER] / n,
        f"{prefix}hier/executor_tokens_per_episode": tokens[EXECUTOR] / n,
    }
    if plans:
        out[f"{prefix}hier/plan_format_ok"] = float(np.mean([bool(p[InfoKeys.PLAN_FORMAT_OK]) for p in plans]))
        out[f"{prefix}hier/plan_length"] = float(np.mean([len(p.get(InfoKeys.PLAN) or []) for p in plans]))
        out[f"{prefix}hier/plans_per_episode"] = len(plans) / n
    return out


def vocabulary_texts(make_env: Callable[[str], Any], env_id: str, seeds: Sequence[int], prompts: HierarchicalPrompts | None = None) -> list[str]:
    """Texts a tiny model's vocabulary needs for the hierarchical formats: the prompts, the tags, the env's subgoal texts."""
    texts = [*(prompts or HierarchicalPrompts()).words(), " ".join(ANSWER_TAGS), f"KEEP SWITCH none {TASK_FALLBACK} 0 1 2 3 4 5 6 7 8 9 ."]
    for seed in seeds:
        env = make_env(env_id)
        _, info = env.reset(seed=int(seed))
        texts.extend(sg.text for sg in info.get(InfoKeys.SUBGOALS) or [] if isinstance(sg, Subgoal))
        texts.append(str(info.get(InfoKeys.TASK) or ""))
        env.close()
    return texts


# --- demonstrations -------------------------------------------------------------------------------


def expert_actions(env: Any) -> list[str]:
    """Expert entry point for ``warm_start.expert`` (``hiergym.training.hierarchy:expert_actions``): the env's own
    solver from its current state, Household's ``expert_plan()`` or Sokoban's ``solve()``."""
    if hasattr(env, "expert_plan"):
        return list(env.expert_plan() or [])
    if hasattr(env, "solve"):
        return list(env.solve() or [])
    raise TypeError(f"{type(env).__name__} has no solver (expert_plan() or solve()); pass another warm_start.expert")


def expert_segments(actions: Sequence[str], achieved_after: Sequence[list[str]], subgoals: Sequence[Subgoal], task: str) -> tuple[list[str], list[str]]:
    """The blueprint an expert followed and the subgoal of each of its steps.

    ``achieved_after[t]``: the env's ``subgoals_achieved`` ids after step t. The blueprint is the
    env's subgoal texts in first-achievement order; step t belongs to the first subgoal achieved at
    or after t; steps after the last achievement pursue the task goal.
    """
    text_of = {sg.id: sg.text for sg in subgoals}
    blueprint: list[str] = []
    reached_at: list[tuple[int, str]] = []
    seen: set[str] = set()
    for t, ids in enumerate(achieved_after):
        for sid in ids:
            if sid not in seen and sid in text_of:
                seen.add(sid)
                blueprint.append(text_of[sid])
                reached_at.append((t, text_of[sid]))
    per_step = []
    k = 0
    for t in range(len(actions)):
        while k < len(reached_at) and reached_at[k][0] < t:
            k += 1
        per_step.append(reached_at[k][1] if k < len(reached_at) else task)
    return blueprint, per_step


def hierarchical_demonstrations(config: TrainConfig, agent: HierarchicalAgent, make_env: Callable[[str], Any]) -> list[Trajectory]:
    """Run the expert (``warm_start.expert``) on the warm-start seeds; turns hold planner and executor answers."""
    from hiergym.training.warm_start import expert_demonstrations

    return expert_demonstrations(config, agent, make_env, episode=_demo_episode)


def _demo_episode(config: TrainConfig, agent: HierarchicalAgent, make_env: Callable[[str], Any], expert: Callable[[Any], Any], seed: int) -> Trajectory:
    env_id = config.env.env_id
    env = make_env(env_id)
    obs, info = env.reset(seed=seed)
    task = str(info.get(InfoKeys.TASK) or "")
    subgoals = [sg for sg in info.get(InfoKeys.SUBGOALS) or [] if isinstance(sg, Subgoal)]
    actions = list(expert(env.unwrapped) or [])
    # first pass: play the actions, remember observations and the achievement order
    steps: list[tuple[str, dict[str, Any], str, float, bool, bool, dict[str, Any]]] = []
    achieved_after: list[list[str]] = []
    for action in actions:
        next_obs, reward, terminated, truncated, next_info = env.step(f"<action>{action}</action>")
        steps.append((obs, info, action, float(reward), bool(terminated), bool(truncated), next_info))
        achieved_after.append(list(next_info.get(InfoKeys.SUBGOALS_ACHIEVED) or []))
        obs, info = next_obs, next_info
        if terminated or truncated:
            break
    env.close()
    blueprint, per_step = expert_segments([s[2] for s in steps], achieved_after, subgoals, task or TASK_FALLBACK)
    longest = max((sum(1 for _ in group) for _, group in itertools.groupby(per_step)), default=0)
    if longest > agent.config.max_segment_steps:
        logger.warning("seed %d: the solver spends %d steps on one subgoal, more than max_segment_steps=%d; rollouts cut such a "
                       "segment at k, so its later demonstration steps show a subgoal the agent would have left", seed, longest, agent.config.max_segment_steps)
    traj = Trajectory(group_id=group_id_of(env_id, seed), env_id=env_id, seed=seed, meta={"blueprint": blueprint})
    history: list[tuple[str, str]] = []
    tok = agent.backend.tokenizer
    for t, (obs_t, info_t, action, reward, terminated, truncated, next_info) in enumerate(steps):
        raw = str(info_t.get(InfoKeys.RAW_OBSERVATION, obs_t))
        subgoal = per_step[t]
        new_segment = t == 0 or per_step[t - 1] != subgoal
        if new_segment:
            history = []
        gens = []
        if agent.config.mode == "blueprint":
            if t == 0:
                gens.append(_generation(tok, agent.planner_prompt(task, raw), format_blueprint(blueprint or [task or TASK_FALLBACK]), PLANNER))
            shown = history[-agent.config.history_k:] if agent.config.history_k else []
            admissible = info_t.get(InfoKeys.ADMISSIBLE_ACTIONS) or []
            gens.append(_generation(tok, agent.executor_prompt(task, subgoal, shown, raw, admissible), f"<action>{action}</action>", EXECUTOR))
        else:
            head = SWITCH_PREFIX.format(subgoal=subgoal) if new_segment else KEEP_PREFIX
            open_subgoal = None if new_segment else subgoal
            gens.append(_generation(tok, agent.switch_prompt(obs_t, open_subgoal), f"{head}<action>{action}</action>", EXECUTOR))
        history.append((raw, action))
        traj.turns.append(Turn(observation=obs_t, action=action, raw_action=gens[-1].text, reward=reward, terminated=terminated,
                               truncated=truncated, subgoal=subgoal, action_valid=bool(next_info.get(InfoKeys.ACTION_VALID, True)), generations=gens))
    traj.success = bool(steps and steps[-1][6].get(InfoKeys.WON, False))
    traj.episode_return = float(sum(traj.rewards))
    return traj


def _generation(tokenizer: Any, prompt: str, answer: str, role: str) -> Generation:
    response = tokenizer(answer, add_special_tokens=False)["input_ids"]
    return Generation(tokenizer(prompt)["input_ids"], response, [0.0] * len(response), answer, role=role)


def hierarchical_warm_start(config: TrainConfig, agent: HierarchicalAgent, make_env: Callable[[str], Any], device: str) -> dict[str, float]:
    """Supervised fit of both roles to the expert's demonstrations (each model on its own role's rows)."""
    from hiergym.training.warm_start import fit_demonstrations

    demos = hierarchical_demonstrations(config, agent, make_env)
    if agent.shared:
        return fit_demonstrations(config, agent.executor_backend, demos, device)
    metrics = {f"executor_{k}": v for k, v in fit_demonstrations(config, agent.executor_backend, demos, device, roles={EXECUTOR}).items()}
    metrics.update({f"planner_{k}": v for k, v in fit_demonstrations(config, agent.planner_backend, demos, device, roles={PLANNER}).items()})
    return metrics
