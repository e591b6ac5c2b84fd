"""Shared-prefix training forward: rows with the same prompt run that prompt through the model once.

In a GRPO batch the G rows of a task group start from the same prompt (and in multi-turn envs
many turns revisit the same observation), yet a plain forward computes every prompt token once
per row. Here the distinct prompts run as one batch with a KV cache; the cache is gathered to the
rows (``index_select``, so gradients of every row flow back into the one prompt forward); then all
responses run against it. The response tokens' log-probs and entropies, the loss over them and
its gradients equal the plain forward's (same math, different order of float sums; checked in
float64 by tests/algos/test_shared_prefix.py).

Rows are right-padded (as ``build_batch`` makes them); the prompt of a row is everything before
its first response token. Values off the response mask are 0.
"""

from __future__ import annotations

import torch


def _cache_kwarg(model: torch.nn.Module) -> str:
    """``cache`` (newer transformers) or ``past_key_values``: the forward argument that takes a KV cache."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def prompt_groups(input_ids: torch.Tensor, response_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, ...]]]:
    """(prompt length per row, index of each row's distinct prompt, the distinct prompts)."""
    if bool((response_mask.sum(-1) == 0).any()):
        raise ValueError("every row needs at least one response token (build_batch drops rows without)")
    lengths = response_mask.int().argmax(-1)
    if bool((lengths == 0).any()):
        raise ValueError("every row needs a prompt of at least one token before its response")
    index: dict[tuple[int, ...], int] = {}
    rows = [index.setdefault(tuple(ids[:n].tolist()), len(index)) for ids, n in zip(input_ids, lengths.tolist())]
    return lengths, torch.tensor(rows, dtype=torch.long, device=input_ids.device), list(index)


def shared_prefix_logprobs_and_entropy(
    model: torch.nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    response_mask: torch.Tensor,
    *,
    temperature: float = 1.0,
    entropy: bool = True,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``token_logprobs_and_entropy`` on the response tokens, with one forward per distinct prompt.

    ``[B, T]`` log p(token t | tokens < t) and (no grad) the entropy of that distribution, at the
    positions of ``response_mask``; 0 elsewhere.
    """
    device = input_ids.device
    batch, width = input_ids.shape
    lengths, row_prompt, prompts = prompt_groups(input_ids, response_mask)
    resp_len = response_mask.sum(-1)
    # 1) the distinct prompts, right-padded, with a KV cache
    p_max = max(len(p) for p in prompts)
    prefix_ids = torch.zeros((len(prompts), p_max), dtype=input_ids.dtype, device=device)
    prefix_mask = torch.zeros((len(prompts), p_max), dtype=attention_mask.dtype, device=device)
    for u, p in enumerate(prompts):
        prefix_ids[u, : len(p)] = torch.tensor(p, dtype=input_ids.dtype, device=device)
        prefix_mask[u, : len(p)] = 1
    prefix = model(input_ids=prefix_ids, attention_mask=prefix_mask, use_cache=True)
    cache = getattr(prefix, "cache", None) or prefix.past_key_values
    cache.reorder_cache(row_prompt)  # [U, ...] -> [B, ...]: each row reads (and back-propagates into) its prompt's keys/values
    # 2) every row's response against its prompt's cache, at positions continuing its own prompt
    r_max = int(resp_len.max())
    cols = torch.arange(r_max, device=device)
    in_resp = cols[None, :] < resp_len[:, None]
    gather_cols = (lengths[:, None] + cols[None, :]).clamp(max=width - 1)
    resp_ids = torch.where(in_resp, input_ids.gather(1, gather_cols), torch.zeros_like(gather_cols))
    mask = torch.cat([prefix_mask[row_prompt], in_resp.to(attention_mask.dtype)], dim=1)
    out = model(input_ids=resp_ids, attention_mask=mask, position_ids=lengths[:, None] + cols[None, :], use_cache=True, **{_cache_kwarg(model): cache})
    # 3) the distribution each response token was sampled from: the prompt's last position, then the response's own
    first = prefix.logits[row_prompt, lengths - 1].unsqueeze(1)
    logits = torch.cat([first, out.logits[:, :-1]], dim=1)
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # float32 under bf16, float64 kept
    if temperature != 1.0:
        logits = logits / temperature
    log_norm = torch.logsumexp(logits, dim=-1)
    picked = (torch.gather(logits, -1, resp_ids.unsqueeze(-1)).squeeze(-1) - log_norm) * in_resp
    logprobs = torch.zeros((batch, width), dtype=picked.dtype, device=device)
    rows = torch.arange(batch, device=device)[:, None].expand(-1, r_max)
    logprobs = logprobs.index_put((rows[in_resp], gather_cols[in_resp]), picked[in_resp])
    ent = None
    if entropy:
        with torch.no_grad():
            probs = torch.softmax(logits, dim=-1)
            h = log_norm - (probs * logits).sum(-1)
            ent = torch.zeros((batch, width), dtype=h.dtype, device=device)
            ent[rows[in_resp], gather_cols[in_resp]] = h[in_resp]
    return logprobs, ent
