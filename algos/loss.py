"""The clipped policy-gradient loss shared by every token algorithm (GRPO, GiGPO; the planned HRPO and M-GRPO too).

Shapes: all tensors ``[B, T]``; ``response_mask`` is 1 on tokens the policy generated and 0 on
prompt, observation, tool-output and padding tokens.

    rho = exp(logp - old_logp)
    L   = -agg( min(rho * A, clip(rho, 1 - eps_low, 1 + eps_high) * A) ) + beta * agg(KL_k3(ref || pi))
    k3  = exp(ref - logp) - (ref - logp) - 1

With ``dual_clip=c`` the loss of a token with A < 0 is capped at ``c * |A|`` (Ye et al. 2020, as
verl's ``clip_ratio_c``). Aggregation modes follow verl's ``agg_loss``.
"""

from __future__ import annotations

from typing import get_args

import torch

from hiergym.algos.configs import LossAgg

AGG_MODES: tuple[str, ...] = get_args(LossAgg)

KL_LOG_RATIO_CLAMP = 10.0
"""The k3 estimator's log-ratio is clamped to +-10 before exp (as verl's low_var_kl) so it stays finite."""


def agg_denominator(response_mask: torch.Tensor, agg: LossAgg) -> float:
    """What ``agg`` divides by over these rows: response tokens (token-mean) or rows with >= 1 response token."""
    mask = response_mask.float()
    if agg == "token-mean":
        return max(float(mask.sum()), 1.0)
    return max(float((mask.sum(-1) > 0).sum()), 1.0)


def agg_loss(token_loss: torch.Tensor, response_mask: torch.Tensor, agg: LossAgg, denominator: float | None = None) -> torch.Tensor:
    """Reduce ``[B, T]`` token losses to a scalar.

    ``token-mean``: sum over all response tokens / number of response tokens.
    ``seq-mean-token-mean``: mean over rows of (row token sum / row token count).
    ``seq-mean-token-sum``: mean over rows of the row token sum.
    Rows without response tokens do not count. ``denominator`` replaces the local count: a trainer
    that splits a batch into micro-batches passes the whole batch's count, so that summing the
    micro-batch losses gives exactly the full-batch loss (and gradient).
    """
    if agg not in AGG_MODES:
        raise ValueError(f"agg={agg!r} is not allowed: one of {AGG_MODES}")
    mask = response_mask.to(token_loss.dtype)
    denom = agg_denominator(response_mask, agg) if denominator is None else denominator
    masked = torch.where(mask > 0, token_loss, torch.zeros_like(token_loss))  # an inf under the mask stays out
    if agg == "token-mean":
        return masked.sum() / denom
    row_sum = masked.sum(-1)
    if agg == "seq-mean-token-mean":
        row_sum = row_sum / mask.sum(-1).clamp(min=1.0)
    return row_sum.sum() / denom


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` Schulman's k3 estimate of KL(pi || ref): exp(ref - logp) - (ref - logp) - 1 (>= 0)."""
    log_ratio = (ref_logprobs - logprobs).clamp(-KL_LOG_RATIO_CLAMP, KL_LOG_RATIO_CLAMP)
    return torch.exp(log_ratio) - log_ratio - 1.0


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> float:
    return float(torch.where(mask > 0, x, torch.zeros_like(x)).sum() / mask.sum().clamp(min=1.0))


def policy_loss(
    logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    eps_low: float = 0.2,
    eps_high: float = 0.28,
    dual_clip: float | None = None,
    agg: LossAgg = "token-mean",
    ref_logprobs: torch.Tensor | None = None,
    kl_beta: float = 0.0,
    denominator: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Clipped surrogate loss (scalar, differentiable in ``logprobs``) and metrics.

    Metrics (masked token means): ``pg_loss``; ``clipfrac`` (share of tokens where the clipped
    branch is active); ``clipfrac_dual`` (share capped by the dual clip); ``approx_kl`` (k3 of the
    old policy vs the current one); ``ratio_mean``, ``ratio_max``; ``kl`` (k3 to the reference,
    when given); ``loss``. ``denominator``: see ``agg_loss``.
    """
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip={dual_clip!r} is not allowed: None or > 1.0")
    if kl_beta > 0 and ref_logprobs is None:
        raise ValueError(f"kl_beta={kl_beta!r} needs ref_logprobs (log-probs of a frozen reference model)")
    mask = response_mask.float()
    logprobs = logprobs.float()
    # Masked positions (prompt, padding) get ratio 1 so no stray inf/NaN can leak into sums or gradients.
    log_ratio = torch.where(mask > 0, logprobs - old_logprobs.float(), torch.zeros_like(logprobs))
    ratio = torch.exp(log_ratio)
    adv = advantages.float()
    unclipped = -adv * ratio
    clipped = -adv * ratio.clamp(1.0 - eps_low, 1.0 + eps_high)
    token_loss = torch.maximum(unclipped, clipped)
    dual_capped = torch.zeros_like(mask, dtype=torch.bool)
    if dual_clip is not None:
        cap = -adv * dual_clip
        dual_capped = (adv < 0) & (token_loss > cap)
        token_loss = torch.where(adv < 0, torch.minimum(token_loss, cap), token_loss)
    pg_loss = agg_loss(token_loss, mask, agg, denominator)
    loss = pg_loss
    metrics: dict[str, float] = {}
    if ref_logprobs is not None:
        kl = kl_k3(logprobs, torch.where(mask > 0, ref_logprobs.float(), logprobs.detach()))
        metrics["kl"] = _masked_mean(kl.detach(), mask)
        if kl_beta > 0:
            loss = loss + kl_beta * agg_loss(kl, mask, agg, denominator)
    with torch.no_grad():
        metrics.update(
            loss=float(loss),
            pg_loss=float(pg_loss),
            clipfrac=_masked_mean((clipped > unclipped).float(), mask),
            clipfrac_dual=_masked_mean(dual_capped.float(), mask),
            approx_kl=_masked_mean(ratio - 1.0 - log_ratio, mask),
            ratio_mean=_masked_mean(ratio, mask),
            ratio_max=float(torch.where(mask > 0, ratio, torch.zeros_like(ratio)).max()) if mask.numel() else 0.0,
            response_tokens=float(mask.sum()),
        )
    return loss, metrics
