"""Per-token log-probabilities of a causal LM over a padded batch (the training forward)."""

from __future__ import annotations

import torch


def token_logprobs(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    temperature: float = 1.0,
) -> torch.Tensor:
    """``[B, T]`` log p(input_ids[:, t] | input_ids[:, :t]); column 0 (no context) is 0.

    Index t holds the log-prob *of* token t, so it lines up with ``Batch.response_mask`` and the
    sampler's per-token log-probs. Logits are divided by ``temperature`` (match the sampler) and
    normalised in float32 even under bf16 autocast. Rows must be right-padded.
    """
    return token_logprobs_and_entropy(model, input_ids, attention_mask, temperature=temperature, entropy=False)[0]


def token_logprobs_and_entropy(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    temperature: float = 1.0,
    entropy: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``token_logprobs`` plus ``[B, T]`` the entropy of the predicted distribution at each token (no grad).

    The entropy at index t is H(p(. | input_ids[:, :t])), the distribution token t was sampled
    from; it is what collapses when RL (or a supervised warm start) makes the policy deterministic.
    """
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1].float()
    if temperature != 1.0:
        logits = logits / temperature
    log_norm = torch.logsumexp(logits, dim=-1)
    targets = input_ids[:, 1:].unsqueeze(-1)
    picked = torch.gather(logits, -1, targets).squeeze(-1) - log_norm
    ent = None
    if entropy:
        with torch.no_grad():
            probs = torch.softmax(logits, dim=-1)
            ent = torch.nn.functional.pad(log_norm - (probs * logits).sum(-1), (1, 0), value=0.0)
    return torch.nn.functional.pad(picked, (1, 0), value=0.0), ent
