"""One config dataclass per algorithm and one for the token trainer.

Every field has the paper's default and a one-line help (the attribute docstring, which tyro shows
as the flag help). Cross-field checks run in ``__post_init__`` and raise ``ConfigError`` naming
the field, the value and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hiergym.error import ConfigError

LossAgg = Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"]
OldLogprobSource = Literal["recompute", "sampling", "current"]
StepCredit = Literal["visit", "action"]
from hiergym.wrappers.anchor_hash import AnchorFallback  # noqa: E402  (one home: the anchor fallback)


def _check_eps(eps: float) -> None:
    if not eps > 0:
        raise ConfigError("eps", eps, "must be > 0 (it keeps the z-score finite)")


@dataclass(frozen=True)
class GRPOConfig:
    """GRPO (Shao et al. 2024): every turn of episode i gets A_i = z(R_i, task group)."""

    group_size: int = 8
    """Rollouts per task (G); the collector runs G copies of each task and seed."""
    normalize_std: bool = True
    """Divide by the group std; False = mean-centred only (Dr. GRPO, Liu et al. 2025)."""
    leave_one_out: bool = False
    """Baseline = mean of the *other* rollouts of the group (RLOO) instead of the group mean."""
    eps: float = 1e-6
    """Added to the std in the z-score denominator."""

    def __post_init__(self) -> None:
        if self.group_size < 2:
            raise ConfigError("group_size", self.group_size, "group-relative advantages need >= 2 rollouts per task")
        _check_eps(self.eps)


@dataclass(frozen=True)
class GiGPOConfig:
    """GiGPO (Feng et al. 2025): A = A^E + omega * A^S, with anchor-state step groups inside each task group."""

    group_size: int = 8
    """Rollouts per task (G); the collector runs G copies of each task and seed."""
    gamma: float = 0.95
    """Discount of the step-level return-to-go G_t = sum_k gamma^(k-t) r_k."""
    omega: float = 1.0
    """Weight of the step-level part A^S."""
    normalize_std: bool = True
    """Divide both parts by their group std; False = mean-centred only (verl-agent's default 'mean_norm')."""
    eps: float = 1e-6
    """Added to the std in the z-score denominator."""
    anchor_fallback: AnchorFallback = "observation"
    """Step-group key for a turn whose anchor is None: its observation text (as verl-agent) or none (A^S = 0)."""
    mean_std_cross_steps: bool = False
    """A^E's group mean/std over turns (each episode weighs once per turn), as verl-agent's trainer default
    ``compute_mean_std_cross_steps=True``; False = over episodes (the paper's Eq. 3)."""
    step_credit: StepCredit = "visit"
    """A^S per visit, z(G_t) as the paper; or ``action``: the mean G_t of the step group's turns that took
    the same action (Q(s, a) - V(s)), so a step group without a choice between actions carries no signal."""

    def __post_init__(self) -> None:
        if self.group_size < 2:
            raise ConfigError("group_size", self.group_size, "group-relative advantages need >= 2 rollouts per task")
        if self.step_credit not in ("visit", "action"):
            raise ConfigError("step_credit", self.step_credit, "'visit' (the paper's z(G_t)) or 'action' (Q(s, a) - V(s))")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError("gamma", self.gamma, "a discount in [0, 1] (paper: 0.95)")
        if self.omega < 0:
            raise ConfigError("omega", self.omega, "a non-negative weight of the step part (paper: 1.0)")
        _check_eps(self.eps)




@dataclass(frozen=True)
class TrainerConfig:
    """Clipped policy-gradient token trainer (PPO-style surrogate with DAPO's clip-higher)."""

    lr: float = 1e-6
    """AdamW learning rate (verl/verl-agent default for LLM RL)."""
    betas: tuple[float, float] = (0.9, 0.999)
    """AdamW betas."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay."""
    lr_warmup_steps: int = 0
    """Linear warm-up of the learning rate over this many optimiser steps (0 = constant)."""
    max_grad_norm: float | None = 1.0
    """Clip the global gradient norm to this value; None = no clipping."""
    eps_low: float = 0.2
    """Lower clip range: ratio >= 1 - eps_low."""
    eps_high: float = 0.28
    """Upper clip range: ratio <= 1 + eps_high (DAPO clip-higher)."""
    dual_clip: float | None = None
    """For A < 0 cap the loss at dual_clip * |A| (verl's clip_ratio_c, typically 3.0); None = off."""
    loss_agg: LossAgg = "token-mean"
    """How token losses become one number (as verl's agg_loss)."""
    kl_beta: float = 0.0
    """Weight of the k3 KL penalty to the frozen reference model (needs ref_model when > 0)."""
    ppo_epochs: int = 1
    """Passes over each batch."""
    num_minibatches: int = 1
    """Optimiser steps per epoch: the batch rows are shuffled and split into this many minibatches."""
    max_tokens_per_microbatch: int = 8192
    """Padded tokens (rows x longest row) per forward/backward; gradients accumulate over micro-batches."""
    temperature: float = 1.0
    """Sampling temperature; logits are divided by it so log-probs match the sampler's."""
    old_logprobs: OldLogprobSource = "recompute"
    """Old log-probs for the ratio: recomputed with the training forward (no grad), the sampler's, or
    ``current``: the update's own forward, detached (ratio exactly 1, no extra forward pass; only
    for one update per batch, e.g. the supervised warm start with advantage 1)."""
    shared_prefix: bool = False
    """Run each distinct prompt of a micro-batch through the model once (KV cache shared by its rows):
    the same log-probs and gradients up to float rounding, ~2x faster when rows repeat prompts
    (GRPO groups, revisited states); algos/shared_prefix.py."""
    seed: int = 0
    """Seed of the minibatch shuffling."""

    def __post_init__(self) -> None:
        if not self.lr > 0:
            raise ConfigError("lr", self.lr, "a positive learning rate")
        if not 0.0 < self.eps_low < 1.0:
            raise ConfigError("eps_low", self.eps_low, "in (0, 1) so that 1 - eps_low is a positive ratio bound")
        if not self.eps_high > 0:
            raise ConfigError("eps_high", self.eps_high, "> 0 (DAPO: 0.28)")
        if self.dual_clip is not None and not self.dual_clip > 1.0 + self.eps_high:
            raise ConfigError(
                "dual_clip",
                self.dual_clip,
                f"None or > 1 + eps_high = {1.0 + self.eps_high} (the cap must lie above the clip range; verl uses 3.0)",
            )
        if self.kl_beta < 0:
            raise ConfigError("kl_beta", self.kl_beta, "a non-negative KL weight")
        if self.max_grad_norm is not None and not self.max_grad_norm > 0:
            raise ConfigError("max_grad_norm", self.max_grad_norm, "None or a positive norm")
        for name in ("ppo_epochs", "num_minibatches", "max_tokens_per_microbatch"):
            if getattr(self, name) < 1:
                raise ConfigError(name, getattr(self, name), "an integer >= 1")
        if self.old_logprobs == "current" and self.ppo_epochs * self.num_minibatches != 1:
            raise ConfigError("old_logprobs", self.old_logprobs, "'recompute' or 'sampling' when a batch gets more than one update (ppo_epochs * num_minibatches > 1)")
        if self.lr_warmup_steps < 0:
            raise ConfigError("lr_warmup_steps", self.lr_warmup_steps, "an integer >= 0")
        if not self.temperature > 0:
            raise ConfigError("temperature", self.temperature, "> 0, the sampler's temperature")


@dataclass(frozen=True)
class HRPOConfig:
    """HRPO (HiMAC / MasHost style): A^macro = z(plan return) on planner tokens; A^micro on executor tokens =
    z(segment reward, same subgoal and start anchor) + omega * step-anchor part + action_weight * z(action-wise reward)."""

    group_size: int = 8
    """Plans per task (M); the collector runs M copies of each task and seed."""
    gamma: float = 0.95
    """Discount of the return-to-go inside a segment (the step-anchor part, as GiGPO)."""
    omega: float = 1.0
    """Weight of the step-anchor part inside segments (GiGPO's omega)."""
    action_weight: float = 0.1
    """lambda: weight of the z-scored action-wise reward (validity + progress) in the executor advantage."""
    subgoal_bonus: float = 1.0
    """Added to a segment's reward when its subgoal is achieved (on the segment's last turn)."""
    progress_key: str | None = "action_effective"
    """Turn-info key of the per-turn progress signal added to validity in the action-wise reward; None = validity only."""
    normalize_std: bool = True
    """Divide every z-score by its group std; False = mean-centred only."""
    eps: float = 1e-6
    """Added to the std in the z-score denominator."""
    anchor_fallback: AnchorFallback = "observation"
    """Anchor of a turn whose anchor is None: its observation text, or none (a group of its own)."""

    def __post_init__(self) -> None:
        if self.group_size < 2:
            raise ConfigError("group_size", self.group_size, "relative advantages need >= 2 plans per task")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError("gamma", self.gamma, "a discount in [0, 1] (default 0.95)")
        if not self.omega >= 0:
            raise ConfigError("omega", self.omega, "a non-negative weight of the step-anchor part (default 1.0)")
        if not self.action_weight >= 0:
            raise ConfigError("action_weight", self.action_weight, "a non-negative weight lambda of the action-wise part (default 0.1)")
        if not 0 <= self.subgoal_bonus < float("inf"):
            raise ConfigError("subgoal_bonus", self.subgoal_bonus, "a finite bonus >= 0 (0 = no bonus; default 1.0)")
        if self.progress_key is not None and not self.progress_key:
            raise ConfigError("progress_key", self.progress_key, "an info key such as 'action_effective', or None for validity only")
        _check_eps(self.eps)


AdvantageConfig = GRPOConfig | GiGPOConfig | HRPOConfig
"""Any estimator config ``compute_advantages`` takes."""
