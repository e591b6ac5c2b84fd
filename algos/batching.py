"""From trajectories and per-turn advantages to the padded token ``Batch`` the trainer consumes.

One row per ``Generation`` record (a planner call and an executor call of the same turn are two
rows). A row is ``prompt_ids + response_ids``, right-padded. Only response tokens (what the
policy sampled) are trained on: env observations and tool outputs live in the prompt part and
are masked out. ``old_logprobs`` holds the sampling-time log-probs on response tokens, 0 elsewhere;
``advantages`` holds the turn's advantage on the response tokens of each of its rows, 0 elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence

import numpy as np
import torch

from hiergym.types import Batch, Generation, Trajectory

logger = logging.getLogger(__name__)


def build_batch(
    trajectories: Sequence[Trajectory],
    advantages: Sequence[np.ndarray | Sequence[float]] | Mapping[str, Sequence[np.ndarray | Sequence[float]]],
    *,
    pad_token_id: int,
    roles: Collection[str] | None = None,
) -> Batch:
    """Rows for every generation (of a role in ``roles``, all roles if None) with >= 1 response token.

    ``advantages[i]`` has one value per turn of ``trajectories[i]`` (as ``compute_advantages``
    returns), or a mapping role -> such a list (as ``hrpo_advantages`` returns): then each generation
    takes its own role's value, so a planner and an executor call of one turn can differ.
    Generations without response tokens carry nothing to train and are skipped.
    """
    by_role = dict(advantages) if isinstance(advantages, Mapping) else {None: advantages}
    for per_traj in by_role.values():
        if len(per_traj) != len(trajectories):
            raise ValueError(f"got {len(per_traj)} advantage arrays for {len(trajectories)} trajectories; need one per trajectory")
    rows: list[tuple[Generation, float]] = []
    for i, traj in enumerate(trajectories):
        for per_traj in by_role.values():
            if len(per_traj[i]) != len(traj.turns):
                raise ValueError(f"trajectory {i} ({traj.group_id!r}) has {len(traj.turns)} turns but {len(per_traj[i])} advantages")
        for t, turn in enumerate(traj.turns):
            for g in turn.generations:
                if roles is None or g.role in roles:
                    rows.append((g, float(_role_advantages(by_role, g.role)[i][t])))
    skipped = sum(len(g.response_ids) == 0 for g, _ in rows)
    if skipped:
        logger.debug("build_batch: skipped %d generations without response tokens", skipped)
    rows = [(g, a) for g, a in rows if len(g.response_ids) > 0]
    if not rows:
        wanted = "any role" if roles is None else f"roles {sorted(roles)}"
        raise ValueError(f"no generation with response tokens for {wanted} in {len(trajectories)} trajectories")
    return _pad_rows(rows, pad_token_id)


def _role_advantages(by_role: Mapping, role: str) -> Sequence:
    """The per-trajectory advantages for generations of ``role`` (key None: one list for every role)."""
    table = by_role.get(role, by_role.get(None))
    if table is None:
        raise ValueError(f"no advantages for generation role {role!r}: got roles {sorted(by_role)}; pass roles= to train only those")
    return table


def _pad_rows(rows: list[tuple[Generation, float]], pad_token_id: int) -> Batch:
    width = max(len(g.prompt_ids) + len(g.response_ids) for g, _ in rows)
    shape = (len(rows), width)
    input_ids = np.full(shape, pad_token_id, dtype=np.int64)
    attention = np.zeros(shape, dtype=np.int64)
    response = np.zeros(shape, dtype=np.int64)
    old_logprobs = np.zeros(shape, dtype=np.float32)
    advantages = np.zeros(shape, dtype=np.float32)
    for i, (g, adv) in enumerate(rows):
        p, r = len(g.prompt_ids), len(g.response_ids)
        input_ids[i, :p] = np.asarray(g.prompt_ids, dtype=np.int64)
        input_ids[i, p : p + r] = np.asarray(g.response_ids, dtype=np.int64)
        attention[i, : p + r] = 1
        response[i, p : p + r] = 1
        old_logprobs[i, p : p + r] = np.asarray(g.logprobs, dtype=np.float32)
        advantages[i, p : p + r] = adv
    return Batch(
        input_ids=torch.from_numpy(input_ids),
        attention_mask=torch.from_numpy(attention),
        response_mask=torch.from_numpy(response),
        old_logprobs=torch.from_numpy(old_logprobs),
        advantages=torch.from_numpy(advantages),
        role=[g.role for g, _ in rows],
    )


def select_rows(batch: Batch, index: torch.Tensor | Sequence[int], *, trim: bool = True) -> Batch:
    """The rows ``index`` of ``batch``; with ``trim`` the columns after the last attended token are dropped."""
    idx = torch.as_tensor(index, dtype=torch.long, device=batch.input_ids.device)
    attention = batch.attention_mask[idx]
    width = batch.input_ids.shape[1]
    if trim and attention.numel():
        width = int(torch.nonzero(attention.sum(0)).max()) + 1
    return Batch(
        input_ids=batch.input_ids[idx, :width],
        attention_mask=attention[:, :width],
        response_mask=batch.response_mask[idx, :width],
        old_logprobs=batch.old_logprobs[idx, :width],
        advantages=batch.advantages[idx, :width],
        role=[batch.role[i] for i in idx.tolist()] if batch.role else [],
    )


def microbatch_indices(attention_mask: torch.Tensor, max_tokens: int) -> Iterator[list[int]]:
    """Split rows (in order) into consecutive groups whose padded size, rows x longest row, fits ``max_tokens``.

    A row longer than ``max_tokens`` forms a micro-batch of its own (it cannot be split).
    """
    lengths = attention_mask.sum(-1).tolist()
    current: list[int] = []
    longest = 0
    for i, n in enumerate(lengths):
        n = int(n)
        if current and (len(current) + 1) * max(longest, n) > max_tokens:
            yield current
            current, longest = [], 0
        current.append(i)
        longest = max(longest, n)
    if current:
        yield current
