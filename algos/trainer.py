"""The token trainer: one clipped policy-gradient update per ``step(batch)``; the only owner of the optimiser.

Per step: (1) recompute the old log-probs with the training forward (no grad) and report how far
the sampler's log-probs were from them; (2) reference log-probs for the KL term, if any;
(3) ``ppo_epochs`` passes, each shuffling the rows into ``num_minibatches`` minibatches; a
minibatch is split into micro-batches of at most ``max_tokens_per_microbatch`` padded tokens whose
gradients accumulate. Each micro-batch loss is divided by the *minibatch's* token (or row) count,
so the accumulated gradient equals the full-minibatch gradient for every aggregation mode.
On CUDA the forward runs under bf16 autocast; on CPU the same code runs without autocast.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections import defaultdict
from typing import Any

import torch

from hiergym.algos.batching import microbatch_indices, select_rows
from hiergym.algos.configs import TrainerConfig
from hiergym.algos.logprobs import token_logprobs_and_entropy
from hiergym.algos.shared_prefix import shared_prefix_logprobs_and_entropy
from hiergym.algos.loss import agg_denominator, policy_loss
from hiergym.error import ConfigError
from hiergym.types import Batch

logger = logging.getLogger(__name__)

_TOKEN_WEIGHTED = ("pg_loss", "clipfrac", "clipfrac_dual", "approx_kl", "ratio_mean", "kl", "entropy")


class Trainer:
    """Clipped policy-gradient trainer for a causal LM (``model(input_ids, attention_mask).logits``)."""

    def __init__(
        self,
        model: torch.nn.Module,
        config: TrainerConfig,
        *,
        ref_model: torch.nn.Module | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if config.kl_beta > 0 and ref_model is None:
            raise ConfigError("kl_beta", config.kl_beta, "needs ref_model=<frozen copy of the initial policy>, or set kl_beta=0")
        self.config = config
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.ref_model = ref_model.to(self.device).eval().requires_grad_(False) if ref_model is not None else None
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        # the fused kernel (one op for all parameters, not ~10 per tensor) where torch has one: CPU and CUDA floats
        fused = bool(self.params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in self.params)
        self.optimizer = torch.optim.AdamW(self.params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, fused=fused or None)
        warmup = config.lr_warmup_steps
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda n: min(1.0, (n + 1) / warmup) if warmup else 1.0
        )
        self.generator = torch.Generator().manual_seed(config.seed)
        self.num_steps = 0
        self.num_updates = 0

    # --- forward passes -------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _logprobs(self, model: torch.nn.Module, batch: Batch) -> torch.Tensor:
        return self._forward(model, batch, entropy=False)[0]

    def _forward(self, model: torch.nn.Module, batch: Batch, *, entropy: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Token log-probs (and entropies) of ``batch``: the plain forward, or one forward per distinct prompt."""
        with self._autocast():
            if self.config.shared_prefix:
                return shared_prefix_logprobs_and_entropy(model, batch.input_ids, batch.attention_mask, batch.response_mask, temperature=self.config.temperature, entropy=entropy)
            return token_logprobs_and_entropy(model, batch.input_ids, batch.attention_mask, temperature=self.config.temperature, entropy=entropy)

    @torch.no_grad()
    def logprobs(self, batch: Batch, model: torch.nn.Module | None = None) -> torch.Tensor:
        """``[B, T]`` token log-probs of ``batch`` under ``model`` (default: the policy), 0 off the response mask.

        Micro-batched like the update and computed without grad (old and reference log-probs).
        """
        model = self.model if model is None else model
        batch = batch.to(self.device)
        out = torch.zeros(batch.input_ids.shape, dtype=torch.float32, device=self.device)
        for rows in microbatch_indices(batch.attention_mask, self.config.max_tokens_per_microbatch):
            micro = select_rows(batch, rows)
            out[rows, : micro.input_ids.shape[1]] = self._logprobs(model, micro)
        return out * batch.response_mask

    # --- the update -------------------------------------------------------------------
    def step(self, batch: Batch) -> dict[str, float]:
        """One training step on ``batch`` (``ppo_epochs * num_minibatches`` optimiser updates); returns metrics."""
        batch, ref, metrics = self._prepare(batch)
        per_update: list[dict[str, float]] = []
        for _ in range(self.config.ppo_epochs):
            order = torch.randperm(len(batch), generator=self.generator).to(self.device)
            for rows in order.tensor_split(self.config.num_minibatches):
                if rows.numel():
                    per_update.append(self._update(batch, ref, rows))
        self.num_steps += 1
        metrics.update(_mean_metrics(per_update))
        metrics["lr"] = self.scheduler.get_last_lr()[0]
        logger.debug("trainer step %d: %s", self.num_steps, metrics)
        return metrics

    def compute_gradients(self, batch: Batch) -> dict[str, float]:
        """Accumulate into ``.grad`` the gradient of the loss over the whole batch, without an update."""
        batch, ref, metrics = self._prepare(batch)
        self.optimizer.zero_grad(set_to_none=True)
        metrics.update(self._backward(batch, ref, torch.arange(len(batch), device=self.device)))
        return metrics

    def _prepare(self, batch: Batch) -> tuple[Batch, torch.Tensor | None, dict[str, float]]:
        """Move to device, recompute old log-probs (and reference ones); report the sampler mismatch."""
        batch = batch.to(self.device)
        self._check_token_ids(batch)
        if not self.model.training:  # a Hugging Face model's train() costs ~1 ms (it re-checks hub kernels) even when nothing changes
            self.model.train()
        mask = batch.response_mask.float()
        n_tokens = mask.sum().clamp(min=1.0)
        metrics = {
            "advantage_mean": float((batch.advantages.float() * mask).sum() / n_tokens),
            "rows": float(len(batch)),
            "response_tokens": float(mask.sum()),
        }
        if self.config.old_logprobs != "current":  # "current": the update's own forward supplies them (ratio 1)
            recomputed = self.logprobs(batch)
            diff = (recomputed - batch.old_logprobs.float()).abs() * mask
            metrics["logprob_mismatch_mean"] = float(diff.sum() / n_tokens)
            metrics["logprob_mismatch_max"] = float(diff.max()) if diff.numel() else 0.0
            if self.config.old_logprobs == "recompute":
                batch = Batch(
                    batch.input_ids, batch.attention_mask, batch.response_mask, recomputed, batch.advantages, batch.role
                )
        ref = self.logprobs(batch, self.ref_model) if self.ref_model is not None else None
        return batch, ref, metrics

    def _check_token_ids(self, batch: Batch) -> None:
        """Fail naming the row and id, instead of an index error deep inside the embedding."""
        vocab = getattr(getattr(self.model, "get_input_embeddings", lambda: None)(), "num_embeddings", None)
        limit = vocab if vocab is not None else torch.iinfo(torch.long).max
        bad = (batch.attention_mask > 0) & ((batch.input_ids < 0) | (batch.input_ids >= limit))
        if bool(bad.any()):
            row, col = torch.nonzero(bad)[0].tolist()
            token = int(batch.input_ids[row, col])
            raise ValueError(f"batch row {row} position {col} has token id {token}, outside the model vocabulary [0, {vocab})")

    def _update(self, batch: Batch, ref: torch.Tensor | None, rows: torch.Tensor) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        metrics = self._backward(batch, ref, rows)
        max_norm = self.config.max_grad_norm if self.config.max_grad_norm is not None else math.inf
        metrics["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.params, max_norm))
        self.optimizer.step()
        self.scheduler.step()
        self.num_updates += 1
        return metrics

    def _backward(self, batch: Batch, ref: torch.Tensor | None, rows: torch.Tensor) -> dict[str, float]:
        """Backward over ``rows`` in micro-batches; each micro loss is scaled by the count over all ``rows``."""
        cfg = self.config
        rows = rows[torch.argsort(batch.attention_mask[rows].sum(-1))]  # similar lengths together: less padding
        denominator = agg_denominator(batch.response_mask[rows], cfg.loss_agg)
        totals: dict[str, float] = defaultdict(float)
        for micro_rows in microbatch_indices(batch.attention_mask[rows], cfg.max_tokens_per_microbatch):
            idx = rows[micro_rows]
            micro = select_rows(batch, idx)
            width = micro.input_ids.shape[1]
            logprobs, entropy = self._forward(self.model, micro, entropy=True)
            old = logprobs.detach() if cfg.old_logprobs == "current" else micro.old_logprobs
            loss, m = policy_loss(
                logprobs,
                old,
                micro.advantages,
                micro.response_mask,
                eps_low=cfg.eps_low,
                eps_high=cfg.eps_high,
                dual_clip=cfg.dual_clip,
                agg=cfg.loss_agg,
                ref_logprobs=ref[idx, :width] if ref is not None else None,
                kl_beta=cfg.kl_beta,
                denominator=denominator,
            )
            loss.backward()
            m["entropy"] = float((entropy * micro.response_mask).sum() / micro.response_mask.sum().clamp(min=1))
            totals["loss"] += m["loss"]
            totals["tokens"] += m["response_tokens"]
            for key in _TOKEN_WEIGHTED:
                if key in m:
                    totals[key] += m[key] * m["response_tokens"]
        tokens = max(totals.pop("tokens"), 1.0)
        return {k: v if k == "loss" else v / tokens for k, v in totals.items()}

    # --- checkpointing ----------------------------------------------------------------
    def state_dict(self, *, include_model: bool = True) -> dict[str, Any]:
        """Everything needed to resume: optimiser, scheduler, shuffle RNG, counters (and model weights)."""
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "num_steps": self.num_steps,
            "num_updates": self.num_updates,
        }
        if include_model:
            state["model"] = self.model.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()``; model weights are loaded when present."""
        if "model" in state:
            self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        self.num_steps = int(state["num_steps"])
        self.num_updates = int(state["num_updates"])


def _mean_metrics(per_update: list[dict[str, float]]) -> dict[str, float]:
    """Average each metric over the optimiser updates of one step; ``updates`` counts them."""
    if not per_update:
        return {}
    keys = sorted(set().union(*per_update))  # sorted: metrics.csv columns must not depend on PYTHONHASHSEED
    out = {k: sum(m[k] for m in per_update if k in m) / sum(k in m for m in per_update) for k in keys}
    out["updates"] = float(len(per_update))
    return out
