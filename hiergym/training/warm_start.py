"""Supervised warm start: fit the policy to expert demonstrations before RL.

The loss is the token-mean NLL of the expert's answers, computed by the RL ``Trainer`` itself
(advantage 1, old log-probs from the update's own forward), so there is one optimiser path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from hiergym.training.config_files import load_entry_point
from hiergym.training.configs import TrainConfig
from hiergym.info_keys import InfoKeys
from hiergym.progress import progress_bar
from hiergym.types import Generation, Trajectory, Turn, group_id_of

logger = logging.getLogger(__name__)

PROGRESS_NLL_EVERY = 20
"""With the progress bar on, the minibatch NLL is measured (one extra forward) every this many steps."""

WARM_START_MODEL_DIR = "model_warm_start"
"""Run-dir subdirectory with the policy right after the warm start (save_pretrained): later runs can
start from it through ``model.path`` (e.g. GiGPO and GRPO from the same weights)."""


def expert_demonstrations(config: TrainConfig, agent: Any, make_env: Callable[[str], Any], episode: Callable[..., Trajectory] | None = None) -> list[Trajectory]:
    """Run the expert on ``warm_start.episodes`` seeds; each turn holds one Generation of the expert's answer.

    ``episode(config, agent, make_env, expert, seed)`` records one demonstration (default: a flat
    agent's; the hierarchical warm start passes its own, which writes planner and executor answers).
    """
    expert = load_entry_point(config.warm_start.expert, "warm_start.expert")
    record = episode or _expert_episode
    trajectories = []
    seeds = range(config.warm_start.seed_start, config.warm_start.seed_start + config.warm_start.episodes)
    with progress_bar(len(seeds), "expert demonstrations", enabled=config.progress, unit="episode") as bar:
        for seed in seeds:
            trajectories.append(record(config, agent, make_env, expert, seed))
            bar.update(1)
    return trajectories


def _expert_episode(config: TrainConfig, agent: Any, make_env: Callable[[str], Any], expert: Callable[[Any], Any], seed: int) -> Trajectory:
    """One expert episode on ``seed`` as a Trajectory whose turns hold the expert's answers as Generations."""
    tok = agent.backend.tokenizer
    env = make_env(config.env.env_id)
    obs, info = env.reset(seed=seed)
    traj = Trajectory(group_id=group_id_of(config.env.env_id, seed), env_id=config.env.env_id, seed=seed)
    last_info = [info]
    for action in demonstration_moves(env, expert, config.warm_start.expert_noise, seed, lambda: last_info[0].get(InfoKeys.ADMISSIBLE_ACTIONS, [])):
        answer = f"<action>{action}</action>"
        response = tok(answer, add_special_tokens=False)["input_ids"]
        prompt = tok(agent.prompt(obs))["input_ids"]
        gen = Generation(prompt, response, [0.0] * len(response), answer, role=agent.role)
        next_obs, reward, terminated, truncated, info = env.step(answer)
        valid = bool(info.get(InfoKeys.ACTION_VALID, True))
        # the observation the answer was given to (the one its prompt shows), not the one it led to
        traj.turns.append(Turn(observation=obs, action=action, raw_action=answer, reward=reward, terminated=terminated, truncated=truncated, action_valid=valid, generations=[gen]))
        obs, last_info[0] = next_obs, info
        if terminated or truncated:
            traj.success = bool(info.get(InfoKeys.WON, False))
            break
    traj.episode_return = float(sum(traj.rewards))
    env.close()
    return traj


EXPERT_NOISE_STREAM = 0x6E6F
"""Second word of the noise generator's seed ([demonstration seed, this]): the noisy moves of a
demonstration depend on its level alone, not on the run seed, like the clean demonstrations."""


def demonstration_moves(env: Any, expert: Callable[[Any], Any], noise: float, seed: int, admissible: Callable[[], list[str]]) -> Iterator[str]:
    """The demonstration's moves, each yielded before the env takes it (the caller steps ``env``).

    ``noise`` 0: the expert's action list from the start position. ``noise`` > 0 (imperfect
    demonstrations): before every move the expert plans again from the env's current state, and
    with probability ``noise`` a uniformly random action of ``admissible()`` (the env's latest
    ``admissible_actions``) replaces its first move; the
    episode ends where the expert has no plan (solved, or a dead end the noise led into).
    """
    if noise <= 0:
        yield from expert(env.unwrapped) or []
        return
    rng = np.random.default_rng([seed, EXPERT_NOISE_STREAM])
    while True:
        plan = expert(env.unwrapped)
        if not plan:
            return
        choices = list(admissible())
        yield str(choices[rng.integers(len(choices))]) if rng.random() < noise and choices else plan[0]


def minibatch_indices(num_rows: int, batch_size: int, steps: int, seed: int) -> Iterator[np.ndarray]:
    """Row indices for ``steps`` minibatches: consecutive shuffled epochs (every row once per epoch)."""
    rng = np.random.default_rng(seed)
    size = num_rows if batch_size <= 0 else min(batch_size, num_rows)
    order = np.empty(0, dtype=np.int64)
    for _ in range(steps):
        if len(order) < size:
            order = np.concatenate([order, rng.permutation(num_rows)])
        yield np.sort(order[:size])
        order = order[size:]


def format_tag_ids(tokenizer: Any) -> list[int]:
    """Token ids of the action-format tags (``<action>``, ...) that are single tokens of ``tokenizer`` (may be none)."""
    from hiergym.agents.tiny import FORMAT_TAGS

    return [i for i in tokenizer.convert_tokens_to_ids(list(FORMAT_TAGS)) if i is not None and i != tokenizer.unk_token_id]


def without_format_tags(batch: Any, tokenizer: Any) -> Any:
    """``batch`` with the action-format tag tokens taken off the response mask (only the content is trained)."""
    from hiergym.algos.diagnostics import token_id_mask
    from hiergym.types import Batch

    is_tag = token_id_mask(batch.input_ids, format_tag_ids(tokenizer))
    mask = batch.response_mask * (~is_tag).to(batch.response_mask.dtype)
    return Batch(batch.input_ids, batch.attention_mask, mask, batch.old_logprobs * mask, batch.advantages * mask, batch.role)


def warm_start(config: TrainConfig, agent: Any, make_env: Callable[[str], Any], device: str) -> dict[str, float]:
    """Fit the policy to expert answers (token-mean NLL through the Trainer, advantage 1); returns the last metrics.

    A hierarchical agent (``agent.planner_backend``) gets both roles' demonstrations
    (``hiergym.training.hierarchy.hierarchical_warm_start``)."""
    if hasattr(agent, "planner_backend"):
        from hiergym.training.hierarchy import hierarchical_warm_start

        return hierarchical_warm_start(config, agent, make_env, device)
    return fit_demonstrations(config, agent.backend, expert_demonstrations(config, agent, make_env), device)


def fit_demonstrations(config: TrainConfig, backend: Any, demos: list[Trajectory], device: str, *, roles: set[str] | None = None) -> dict[str, float]:
    """``warm_start.steps`` supervised steps of ``backend``'s model on the answers in ``demos`` (generations of ``roles``; None = all)."""
    from hiergym.algos import Trainer, build_batch
    from hiergym.algos.batching import select_rows

    batch = build_batch(demos, [np.ones(len(t)) for t in demos], pad_token_id=backend.pad_token_id, roles=roles)
    content = without_format_tags(batch, backend.tokenizer)
    sft = Trainer(backend.model, replace(config.trainer, lr=config.warm_start.lr, ppo_epochs=1, num_minibatches=1, kl_beta=0.0, old_logprobs="current", shared_prefix=False), device=device)
    metrics: dict[str, float] = {}
    bar = warm_start_progress(config.warm_start.steps, enabled=config.progress)
    try:
        for step, rows in enumerate(minibatch_indices(len(batch), config.warm_start.batch_size, config.warm_start.steps, config.seed)):
            source = content if step < config.warm_start.content_only_steps else batch
            minibatch = source if len(rows) == len(batch) else select_rows(source, rows.tolist())
            metrics = sft.step(minibatch)
            bar.update(1)
            if not bar.disable and (step % PROGRESS_NLL_EVERY == 0 or step + 1 == config.warm_start.steps):
                bar.set_postfix(nll=f"{token_nll(sft, minibatch):.3f}", part="content" if source is content else "answer")
    finally:
        bar.close()
    metrics["nll"] = token_nll(sft, batch)
    logger.info("warm start: %d demonstrations, %d rows, %d steps, token NLL %.4f", len(demos), len(batch), config.warm_start.steps, metrics["nll"])
    return metrics


def token_nll(trainer: Any, batch: Any) -> float:
    """Token-mean NLL of ``batch``'s response tokens under the trainer's model (one forward, no grad)."""
    mask = batch.response_mask.to(trainer.device)
    return float(-(trainer.logprobs(batch) * mask).sum() / mask.sum().clamp(min=1))


def warm_start_progress(steps: int, *, enabled: bool) -> Any:
    """A bar over the warm start's gradient steps (``disable`` when the run's ``progress`` is off).

    Every ``PROGRESS_NLL_EVERY`` steps it shows ``nll``, the token-mean NLL of the minibatch just
    trained on (over the tokens in the loss), and ``part``: ``content`` while the format tags are left
    out (``content_only_steps``), then ``answer``.
    """
    return progress_bar(steps, "warm start", enabled=enabled, unit="step")
