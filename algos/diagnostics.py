"""What an RL iteration's data can teach: how much of a batch carries signal, and where the advantage lands.

Pure functions over trajectories, per-turn advantages and a ``Batch``; the training loop logs them
every iteration (docs/design.md, section 6). They answer the first questions to ask when RL does not learn:

- ``signal_stats``: group-relative advantages are zero for a task group whose rollouts all got the
  same return (all solved or all failed): such groups teach nothing. A high share of them means the
  tasks are too easy or too hard for the current policy, or the policy has stopped exploring.
- ``token_class_stats``: mean/std of the advantage and the share of loss tokens per token class
  (e.g. the action-format tags vs the words inside them). Format tags that the policy already writes
  with probability ~1 carry no useful signal but still take part in the token-mean loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hiergym.types import Trajectory

ZERO = 1e-8
"""An advantage with absolute value below this counts as zero."""


def signal_stats(trajectories: Sequence[Trajectory], advantages: Sequence[np.ndarray]) -> dict[str, float]:
    """Share of task groups (and of turns) that carry no advantage signal.

    Returns ``groups_same_return`` (every rollout of the group got the same episode return, so
    the episode-level z-score is 0), ``groups_solved_all`` / ``groups_failed_all`` (the two ways
    that happens for a success/failure task), ``groups_zero_advantage`` (every turn of the group
    has advantage 0, i.e. no step-level signal either) and ``turns_zero_advantage``.
    """
    if len(trajectories) != len(advantages):
        raise ValueError(f"{len(trajectories)} trajectories but {len(advantages)} advantage arrays")
    groups: dict[str, list[int]] = {}
    for i, traj in enumerate(trajectories):
        groups.setdefault(traj.group_id, []).append(i)
    same = solved = failed = zero = 0
    for members in groups.values():
        returns = [trajectories[i].episode_return for i in members]
        successes = [trajectories[i].success for i in members]
        if max(returns) - min(returns) <= ZERO:
            same += 1
        solved += all(successes)
        failed += not any(successes)
        zero += all(np.all(np.abs(np.asarray(advantages[i], dtype=float)) <= ZERO) for i in members)
    flat = np.concatenate([np.asarray(a, dtype=float).ravel() for a in advantages]) if advantages else np.zeros(0)
    n = max(len(groups), 1)
    return {
        "groups_same_return": same / n,
        "groups_solved_all": solved / n,
        "groups_failed_all": failed / n,
        "groups_zero_advantage": zero / n,
        "turns_zero_advantage": float(np.mean(np.abs(flat) <= ZERO)) if flat.size else 0.0,
    }


def token_class_stats(batch: Any, classes: Mapping[str, Any]) -> dict[str, float]:
    """Advantage mean/std and share of loss tokens for each token class of ``batch``.

    ``classes`` maps a name to a ``[B, T]`` bool tensor; only tokens on ``batch.response_mask``
    count. Keys: ``adv_mean/<name>``, ``adv_std/<name>``, ``token_share/<name>``.
    """
    response = batch.response_mask > 0
    total = max(int(response.sum()), 1)
    out: dict[str, float] = {}
    for name, mask in classes.items():
        values = batch.advantages.float()[response & mask.to(response.device)]
        out[f"token_share/{name}"] = values.numel() / total
        out[f"adv_mean/{name}"] = float(values.mean()) if values.numel() else 0.0
        out[f"adv_std/{name}"] = float(values.std(unbiased=False)) if values.numel() > 1 else 0.0
    return out


def token_id_mask(input_ids: Any, token_ids: Sequence[int]) -> Any:
    """``[B, T]`` bool: which positions of ``input_ids`` hold one of ``token_ids``."""
    import torch

    return torch.isin(input_ids, torch.tensor(list(token_ids), dtype=input_ids.dtype, device=input_ids.device))


def split_by_group(trajectories: Sequence[Trajectory]) -> tuple[list[int], list[int]]:
    """Indices of the trajectories in the first and the second half of the task groups (in group order)."""
    order: dict[str, int] = {}
    for traj in trajectories:
        order.setdefault(traj.group_id, len(order))
    half = (len(order) + 1) // 2
    first = [i for i, t in enumerate(trajectories) if order[t.group_id] < half]
    second = [i for i, t in enumerate(trajectories) if order[t.group_id] >= half]
    return first, second


def gradient_cosine(trainer: Any, batch_a: Any, batch_b: Any) -> float:
    """Cosine between the policy-loss gradients of two batches from disjoint tasks (no update is made).

    Two independent batches share only the signal: with signal s and per-batch noise n the expected
    cosine is about |s|^2 / (|s|^2 + |n|^2). Near 0 means a batch's gradient is mostly noise (the
    update is a random walk); supervised fine-tuning on a few demonstrations gives clearly positive
    values. Leaves ``.grad`` zeroed.
    """
    import torch

    def flat(batch: Any) -> torch.Tensor:
        trainer.compute_gradients(batch)
        return torch.cat([p.grad.detach().flatten() for p in trainer.params if p.grad is not None]).clone()

    a, b = flat(batch_a), flat(batch_b)
    trainer.optimizer.zero_grad(set_to_none=True)
    return float(torch.nn.functional.cosine_similarity(a, b, dim=0))
