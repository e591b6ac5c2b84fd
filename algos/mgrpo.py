"""M-GRPO (main agent + sub-agents): rewards, group-relative advantages and trajectory alignment.

Pure, vectorised functions over flat arrays, and adapters from trajectories. z(x, G) is the z-score
of ``algos/segments.py`` (sample std, ddof=1, + eps; a group of one or a constant group gives 0).

- K rollouts per query (the query is the task group, ``Trajectory.group_id``).
- **Main**: reward R^main = a1 * format + a2 * correct; A^main = z(R^main, the K rollouts of the query).
  ``format`` is the share of the rollout's turns whose main-agent output parsed (every ``call[...]``
  named a known sub-agent and was well formed, the env action parsed); ``correct`` is 1 when the
  env says the answer was right (``Trajectory.success``), else 0.
- **Sub**: each sub-agent call is a trajectory of its own (role ``sub:<name>``) linked to its parent
  rollout. R^sub = b1 * format + b2 * correct(parent); A^sub = z(R^sub, all calls of that sub-agent
  within the query's K rollouts). A call cut at the step limit (no report) has format 0.
- **Trajectory alignment**: the sub-agent batch must have a fixed size, but rollouts make different
  numbers of calls. Each rollout contributes exactly ``D_max`` calls of each sub-agent: a rollout
  with fewer duplicates random calls of its own, one with more drops random ones, a rollout with
  none borrows random calls of the other rollouts of its query (a query with no call at all
  contributes nothing). Draws come from a seeded generator; what was duplicated, dropped and
  borrowed is returned for logging. A^sub is computed over the *real* calls before alignment, so a
  duplicate repeats a row in the batch (weighs twice) without changing the group statistics.

Where the paper leaves a choice open, this module documents the one it takes (rollouts without
calls borrow from their query; the statistics use the real calls, not the aligned ones).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from hiergym.algos.advantages import ArrayLike, as_finite, grpo_advantages
from hiergym.algos.segments import GroupStats, factorize, factorize_pairs, group_zscore
from hiergym.error import ConfigError
from hiergym.info_keys import InfoKeys
from hiergym.types import Trajectory

FORMAT_OK = "format_ok"
"""Turn-info key (bool): the agent's own output of this turn was well formed (MainSubAgents writes it)."""
ROLLOUT_ID = "rollout_id"
"""``Trajectory.meta`` key of a main rollout's id (default ``"<group_id>/<copy>"``)."""
PARENT = "parent"
"""``Trajectory.meta`` key of a sub-agent call: the id of the main rollout that made it."""
SUB_AGENT = "sub_agent"
"""``Trajectory.meta`` key of a sub-agent call: the sub-agent's name (its generations have role ``sub:<name>``)."""
RETURNED = "returned"
"""``Trajectory.meta`` key of a sub-agent call: False when it was cut at the step limit without a report."""


@dataclass(frozen=True)
class MGRPOConfig:
    """M-GRPO: A^main = z(a1*format + a2*correct) over a query's K rollouts; A^sub = z(b1*format + b2*main correct)
    over the query's calls of each sub-agent; each rollout contributes exactly ``max_sub_calls`` calls per sub-agent."""

    group_size: int = 8
    """Rollouts per query (K); the collector runs K copies of each task and seed."""
    main_format_weight: float = 0.2
    """a1: weight of the main agent's format score (share of well-formed turns)."""
    main_correct_weight: float = 1.0
    """a2: weight of the main agent's correctness (the env's exact-match success)."""
    sub_format_weight: float = 0.2
    """b1: weight of a sub-agent call's format score (share of well-formed turns; 0 when cut without a report)."""
    sub_correct_weight: float = 1.0
    """b2: weight of the parent rollout's correctness in a sub-agent call's reward."""
    max_sub_calls: int = 2
    """D_max: sub-agent calls (per sub-agent) every rollout contributes to the sub-agent batch after alignment."""
    normalize_std: bool = True
    """Divide by the group std; False = mean-centred only (Dr. GRPO)."""
    eps: float = 1e-6
    """Added to the std in the z-score denominator."""

    def __post_init__(self) -> None:
        if self.group_size < 2:
            raise ConfigError("group_size", self.group_size, "group-relative advantages need >= 2 rollouts per query")
        for name in ("main_format_weight", "main_correct_weight", "sub_format_weight", "sub_correct_weight"):
            value = getattr(self, name)
            if not 0.0 <= value < float("inf"):
                raise ConfigError(name, value, "a finite weight >= 0")
        if self.main_format_weight + self.main_correct_weight <= 0:
            raise ConfigError("main_correct_weight", self.main_correct_weight, "> 0 (or main_format_weight > 0): the main reward would be constant")
        if self.sub_format_weight + self.sub_correct_weight <= 0:
            raise ConfigError("sub_correct_weight", self.sub_correct_weight, "> 0 (or sub_format_weight > 0): the sub-agent reward would be constant")
        if isinstance(self.max_sub_calls, bool) or not isinstance(self.max_sub_calls, int) or self.max_sub_calls < 1:
            raise ConfigError("max_sub_calls", self.max_sub_calls, "an integer D_max >= 1 (calls per rollout in the sub-agent batch)")
        if not self.eps > 0:
            raise ConfigError("eps", self.eps, "must be > 0 (it keeps the z-score finite)")


# ----------------------------------------------------------------------------- flat functions


def weighted_reward(format_score: ArrayLike, correct: ArrayLike, *, format_weight: float, correct_weight: float) -> np.ndarray:
    """``[N]`` format_weight * format + correct_weight * correct (the main reward with a1, a2; the sub reward with b1, b2)."""
    f = as_finite(format_score, "format_score")
    c = as_finite(correct, "correct")
    if f.shape != c.shape:
        raise ValueError(f"format_score has shape {f.shape} but correct has shape {c.shape}")
    return format_weight * f + correct_weight * c


def main_advantages(rewards: ArrayLike, query_ids: ArrayLike, *, normalize_std: bool = True, eps: float = 1e-6) -> np.ndarray:
    """``[R]`` A^main: z-score of each rollout's main reward over the rollouts of its query."""
    return grpo_advantages(rewards, query_ids, normalize_std=normalize_std, eps=eps)


def sub_advantages(
    rewards: ArrayLike, query_ids: ArrayLike, sub_names: ArrayLike, *, normalize_std: bool = True, eps: float = 1e-6
) -> np.ndarray:
    """``[C]`` A^sub: z-score of each call's reward over the calls of the same sub-agent and query."""
    r = as_finite(rewards, "rewards")
    queries, names = np.asarray(query_ids), np.asarray(sub_names)
    if not (queries.shape == names.shape == r.shape):
        raise ValueError(f"rewards {r.shape}, query_ids {queries.shape} and sub_names {names.shape} need one entry per call")
    if r.size == 0:
        return r.copy()
    codes, n = factorize_pairs(factorize(queries)[0], names)
    return group_zscore(r, GroupStats(codes, n), normalize_std=normalize_std, eps=eps)


class Alignment(NamedTuple):
    """Which calls fill the fixed-size sub-agent batch, and what it took to fill it.

    ``index[M]`` rows into the calls (M = D_max x rollouts that got calls), ``rollout[M]`` the rollout
    each row is counted for, grouped by rollout in input order.
    """

    index: np.ndarray
    rollout: np.ndarray
    duplicated: int
    """Extra copies of a rollout's own calls (rollouts with 0 < calls < D_max)."""
    dropped: int
    """Calls left out (rollouts with more than D_max calls)."""
    borrowed: int
    """Rows filled with calls of other rollouts of the same query (rollouts that made no call)."""
    empty_rollouts: int
    """Rollouts that contribute nothing: neither they nor any rollout of their query made a call."""

    def log(self, prefix: str = "align/") -> dict[str, float]:
        """The numbers to log per batch."""
        return {f"{prefix}rows": float(self.index.size), f"{prefix}duplicated": float(self.duplicated), f"{prefix}dropped": float(self.dropped),
                f"{prefix}borrowed": float(self.borrowed), f"{prefix}empty_rollouts": float(self.empty_rollouts)}


def align_calls(call_rollouts: ArrayLike, rollout_queries: ArrayLike, d_max: int, *, seed: int | np.random.Generator = 0) -> Alignment:
    """Trajectory alignment: choose exactly ``d_max`` calls for every rollout (see the module docstring).

    ``call_rollouts[C]`` the rollout (an int in ``0..R-1``) that made each call; ``rollout_queries[R]``
    the query of each rollout. Seeded: the same inputs and seed give the same rows.
    """
    if isinstance(d_max, bool) or not isinstance(d_max, (int, np.integer)) or d_max < 1:
        raise ConfigError("d_max", d_max, "an integer >= 1")
    calls = np.asarray(call_rollouts, dtype=np.int64).reshape(-1)
    queries = np.asarray(rollout_queries)
    n_rollouts = queries.size
    if calls.size and (calls.min() < 0 or calls.max() >= n_rollouts):
        raise ValueError(f"call_rollouts must index the {n_rollouts} rollouts (0..{n_rollouts - 1}); got values in [{calls.min()}, {calls.max()}]")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n_calls = calls.size
    counts = np.bincount(calls, minlength=n_rollouts)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    order = np.lexsort((rng.random(n_calls), calls))  # calls grouped by rollout, random order inside each rollout

    query_codes, n_queries = factorize(queries) if n_rollouts else (np.zeros(0, dtype=np.int64), 0)
    call_query = query_codes[calls]
    q_order = np.argsort(call_query, kind="stable")
    q_counts = np.bincount(call_query, minlength=n_queries)
    q_starts = np.r_[0, np.cumsum(q_counts)[:-1]]

    slot_rollout = np.repeat(np.arange(n_rollouts), d_max)
    slot = np.tile(np.arange(d_max), n_rollouts)
    c = counts[slot_rollout]
    u = rng.random(slot_rollout.size)
    own_pos = np.where(slot < c, slot, np.floor(u * np.maximum(c, 1)).astype(np.int64))  # first min(c, D) in random order, then draws
    qc = q_counts[query_codes[slot_rollout]] if n_rollouts else np.zeros(0, dtype=np.int64)
    peer_pos = np.floor(u * np.maximum(qc, 1)).astype(np.int64)
    has_own, has_peer = c > 0, (c == 0) & (qc > 0)
    index = np.full(slot_rollout.size, -1, dtype=np.int64)
    if n_calls:
        index[has_own] = order[(starts[slot_rollout] + own_pos)[has_own]]
        index[has_peer] = q_order[(q_starts[query_codes[slot_rollout]] + peer_pos)[has_peer]]
    keep = index >= 0
    return Alignment(
        index=index[keep],
        rollout=slot_rollout[keep],
        duplicated=int(np.maximum(d_max - counts, 0)[counts > 0].sum()),
        dropped=int(np.maximum(counts - d_max, 0).sum()),
        borrowed=int(has_peer.sum()),
        empty_rollouts=int(((counts == 0) & (q_counts[query_codes] == 0)).sum()) if n_rollouts else 0,
    )


# ----------------------------------------------------------------------------- trajectory adapters


def rollout_id_of(trajectory: Trajectory) -> str:
    """The id of a main rollout: ``meta["rollout_id"]`` if set, else ``"<group_id>/<copy>"`` (unique within a collect call)."""
    rid = trajectory.meta.get(ROLLOUT_ID)
    if rid is not None:
        return str(rid)
    return f"{trajectory.group_id}/{trajectory.meta.get('copy', 0)}"


def format_score(trajectory: Trajectory) -> float:
    """Share of the trajectory's turns whose own output was well formed; a sub-agent call cut without a report scores 0.

    A turn's flag is ``info["format_ok"]`` (written by MainSubAgents), else the env's ``action_format_ok``,
    else ``action_valid``. A trajectory without turns scores 0.
    """
    if not trajectory.turns or trajectory.meta.get(RETURNED) is False:
        return 0.0
    ok = [bool(t.info.get(FORMAT_OK, t.info.get(InfoKeys.ACTION_FORMAT_OK, t.action_valid))) for t in trajectory.turns]
    return sum(ok) / len(ok)


@dataclass
class MainPart:
    """Main-agent side of M-GRPO for one batch: one reward and advantage per rollout, and their parts."""

    rollout_ids: list[str]
    query_ids: list[str]
    format: np.ndarray
    correct: np.ndarray
    reward: np.ndarray
    advantage: np.ndarray

    def per_turn(self, trajectories: Sequence[Trajectory]) -> list[np.ndarray]:
        """One advantage array per trajectory (every turn gets its rollout's A^main)."""
        return [np.full(len(t.turns), a) for t, a in zip(trajectories, self.advantage)]

    def correct_by_rollout(self) -> dict[str, float]:
        """The reward statistic a sub-agent learner needs: each rollout's correctness, by rollout id."""
        return dict(zip(self.rollout_ids, self.correct.tolist()))

    def query_by_rollout(self) -> dict[str, str]:
        return dict(zip(self.rollout_ids, self.query_ids))


@dataclass
class SubPart:
    """Sub-agent side for one batch: rewards and advantages of the real calls, and the aligned rows."""

    trajectories: list[Trajectory]
    """The aligned rows (a duplicated call appears more than once), per sub-agent in name order."""
    advantages: list[np.ndarray]
    """One per-turn advantage array per aligned row."""
    reward: np.ndarray
    """``[C]`` reward of each real call, in input order."""
    advantage: np.ndarray
    """``[C]`` A^sub of each real call, in input order."""
    alignment: dict[str, Alignment] = field(default_factory=dict)
    """Per sub-agent name."""

    def stats(self) -> dict[str, float]:
        out: dict[str, float] = {"mgrpo/sub_calls": float(self.reward.size)}
        if self.reward.size:
            out["mgrpo/sub_reward_mean"] = float(self.reward.mean())
            out["mgrpo/sub_adv_std"] = float(self.advantage.std())
        for name, a in sorted(self.alignment.items()):
            out.update(a.log(prefix=f"mgrpo/align/{name}/"))
        return out


def main_part(trajectories: Sequence[Trajectory], config: MGRPOConfig) -> MainPart:
    """R^main and A^main of every main rollout (group = ``group_id``)."""
    fmt = np.array([format_score(t) for t in trajectories], dtype=np.float64)
    correct = np.array([float(bool(t.success)) for t in trajectories], dtype=np.float64)
    reward = weighted_reward(fmt, correct, format_weight=config.main_format_weight, correct_weight=config.main_correct_weight)
    queries = [t.group_id for t in trajectories]
    adv = main_advantages(reward, np.asarray(queries, dtype=object), normalize_std=config.normalize_std, eps=config.eps) if trajectories else reward
    ids = [rollout_id_of(t) for t in trajectories]
    if len(set(ids)) != len(ids):
        raise ValueError("main rollouts must have distinct ids (meta['rollout_id'] or group_id/copy); got duplicates")
    return MainPart(ids, queries, fmt, correct, reward, adv)


def sub_part(
    trajectories: Sequence[Trajectory],
    parent_correct: Mapping[str, float],
    parent_query: Mapping[str, str],
    config: MGRPOConfig,
    *,
    seed: int = 0,
    sub_names: Sequence[str] = (),
) -> SubPart:
    """R^sub, A^sub of every sub-agent call, then the aligned rows (``max_sub_calls`` per rollout and sub-agent).

    ``parent_correct`` / ``parent_query``: every main rollout of the batch by id (also those that made
    no call, so they can borrow), as :meth:`MainPart.correct_by_rollout` gives them; in a decoupled
    run they arrive through the shared store. A call whose parent is unknown raises. ``sub_names``:
    sub-agents to align (and log) even when they made no call in this batch.
    """
    parents = [str(t.meta.get(PARENT)) for t in trajectories]
    missing = sorted({p for p in parents if p not in parent_correct})
    if missing:
        raise ValueError(f"{len(missing)} sub-agent calls name parent rollouts that are not in the batch, e.g. {missing[:3]}")
    names = [_sub_name(t) for t in trajectories]
    fmt = np.array([format_score(t) for t in trajectories], dtype=np.float64)
    correct = np.array([float(parent_correct[p]) for p in parents], dtype=np.float64)
    reward = weighted_reward(fmt, correct, format_weight=config.sub_format_weight, correct_weight=config.sub_correct_weight)
    queries = np.asarray([parent_query[p] for p in parents], dtype=object)
    adv = sub_advantages(reward, queries, np.asarray(names, dtype=object), normalize_std=config.normalize_std, eps=config.eps)

    rollout_ids = list(parent_query)
    rollout_code = {r: i for i, r in enumerate(rollout_ids)}
    rollout_queries = np.asarray([parent_query[r] for r in rollout_ids], dtype=object)
    rng = np.random.default_rng(seed)
    rows: list[Trajectory] = []
    row_adv: list[np.ndarray] = []
    alignment: dict[str, Alignment] = {}
    for name in sorted({*names, *sub_names}):
        members = np.flatnonzero(np.asarray(names, dtype=object) == name)
        a = align_calls([rollout_code[parents[i]] for i in members], rollout_queries, config.max_sub_calls, seed=rng)
        alignment[name] = a
        for k in members[a.index]:
            rows.append(trajectories[k])
            row_adv.append(np.full(len(trajectories[k].turns), adv[k]))
    return SubPart(rows, row_adv, reward, adv, alignment)


def _sub_name(trajectory: Trajectory) -> str:
    name = trajectory.meta.get(SUB_AGENT)
    if not name:
        raise ValueError(f"a sub-agent call trajectory ({trajectory.group_id!r}) has no meta['sub_agent'] name")
    return str(name)


@dataclass
class MGRPOResult:
    """Everything one M-GRPO batch gives the trainer(s) and the logs."""

    main: MainPart
    sub: SubPart
    main_advantages: list[np.ndarray]

    def stats(self) -> dict[str, float]:
        m = self.main
        out = {
            "mgrpo/main_reward_mean": float(m.reward.mean()) if m.reward.size else 0.0,
            "mgrpo/main_correct": float(m.correct.mean()) if m.correct.size else 0.0,
            "mgrpo/main_format": float(m.format.mean()) if m.format.size else 0.0,
            "mgrpo/main_adv_std": float(m.advantage.std()) if m.advantage.size else 0.0,
        }
        out.update(self.sub.stats())
        return out


def mgrpo_advantages(
    main_trajectories: Sequence[Trajectory], sub_trajectories: Sequence[Trajectory], config: MGRPOConfig, *, seed: int = 0
) -> MGRPOResult:
    """M-GRPO for one batch: A^main per main rollout, A^sub per call, and the aligned sub-agent rows."""
    main = main_part(main_trajectories, config)
    sub = sub_part(sub_trajectories, main.correct_by_rollout(), main.query_by_rollout(), config, seed=seed)
    return MGRPOResult(main, sub, main.per_turn(main_trajectories))
