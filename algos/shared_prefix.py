"""Shared-prefix training forward: rows with the same prompt run that prompt through the model once.

In a GRPO batch the G rows of a task group start from the same prompt (and in multi-turn envs
many turns revisit the same observation), yet a plain forward computes every prompt token once
per row. Here the distinct prompts run as one batch with a KV cache; the cache is gathered to the
rows (``index_select``, so gradients of every row flow back into the one prompt forward); then all
responses run against it. The response tokens' log-probs and entropies, the loss over them and
its gradients equal the plain forward's (same math, different order of float sums; checked in
float64 by tests/algos/test_shared_prefix.py).

For Llama/Qwen2 models (``llama_forward.supports_training``) the forward is plain ops on the
model's weights (``agents/llama_forward.py``, the decode loop's body), on packed tokens: the
projections and MLP see only real tokens and only those whose prediction a log-prob reads, and
the head runs only there; other models go through their own forward and KV cache.

Rows are right-padded (as ``build_batch`` makes them); the prompt of a row is everything before
its first response token. Values off the response mask are 0.
"""

from __future__ import annotations

import torch

from hiergym.agents import llama_forward


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
    # 2) every row's response, at positions continuing its own prompt
    r_max = int(resp_len.max())
    cols = torch.arange(r_max, device=device)
    in_resp = cols[None, :] < resp_len[:, None]
    gather_cols = (lengths[:, None] + cols[None, :]).clamp(max=width - 1)
    resp_ids = torch.where(in_resp, input_ids.gather(1, gather_cols), torch.zeros_like(gather_cols))
    resp_positions = lengths[:, None] + cols[None, :]
    # 3) the distribution each response token was sampled from: the prompt's last position, then the response's own
    if llama_forward.supports_training(model):
        logits = _llama_logits(model, prefix_ids, prefix_mask, row_prompt, resp_ids, resp_positions, in_resp)
    else:
        logits = _model_logits(model, prefix_ids, prefix_mask, lengths, row_prompt, resp_ids, resp_positions, in_resp.to(attention_mask.dtype))
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


def _model_logits(model: torch.nn.Module, prefix_ids: torch.Tensor, prefix_mask: torch.Tensor, lengths: torch.Tensor, row_prompt: torch.Tensor,
                  resp_ids: torch.Tensor, resp_positions: torch.Tensor, resp_mask: torch.Tensor) -> torch.Tensor:
    """``[B, R, V]`` logits each response token was sampled from, through the model's own forward and KV cache."""
    prefix = model(input_ids=prefix_ids, attention_mask=prefix_mask, use_cache=True)
    cache = getattr(prefix, "cache", None) or prefix.past_key_values
    cache.reorder_cache(row_prompt)  # [U, ...] -> [B, ...]: each row reads (and back-propagates into) its prompt's keys/values
    mask = torch.cat([prefix_mask[row_prompt], resp_mask], dim=1)
    out = model(input_ids=resp_ids, attention_mask=mask, position_ids=resp_positions, use_cache=True, **{_cache_kwarg(model): cache})
    first = prefix.logits[row_prompt, lengths - 1].unsqueeze(1)  # the prompt's last position, then the response's own
    return torch.cat([first, out.logits[:, :-1]], dim=1)


def _llama_logits(model: torch.nn.Module, prefix_ids: torch.Tensor, prefix_mask: torch.Tensor, row_prompt: torch.Tensor, resp_ids: torch.Tensor, resp_positions: torch.Tensor, in_resp: torch.Tensor) -> torch.Tensor:
    """``_model_logits`` for a Llama-architecture model, as plain ops on its weights (``llama_forward``).

    The same arithmetic without the per-call module, mask and cache machinery, and on packed
    tokens: the projections and MLP run on real tokens only (no padding), and only where a log-prob
    is read (the prompts' last tokens, each response but its last token); attention alone sees the
    padded layout.
    """
    distinct, width = prefix_ids.shape
    batch = len(row_prompt)
    device, dtype = prefix_ids.device, model.model.embed_tokens.weight.dtype
    # 1) the distinct prompts, right-padded: a causal mask alone keeps every real query off the padding
    in_prompt = torch.nonzero(prefix_mask.bool(), as_tuple=True)
    causal = torch.ones((width, width), dtype=torch.bool, device=device).tril()
    prompt_bias = torch.zeros((width, width), dtype=dtype, device=device).masked_fill(~causal, float("-inf"))
    prompt_kv: list[tuple[torch.Tensor, torch.Tensor]] = []

    def attend_prompt(layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
        q, k, v = (_unpack(t, in_prompt, distinct, width) for t in (q, k, v))
        prompt_kv.append((k.index_select(0, row_prompt), v.index_select(0, row_prompt)))  # each row reads (and back-propagates into) its prompt's keys/values
        return llama_forward.grouped_attention(q, k, v, prompt_bias, scale).transpose(1, 2)[in_prompt]

    hidden = llama_forward.decoder_layers(model, prefix_ids[in_prompt], in_prompt[1], attend_prompt)
    last = prefix_mask.sum(-1).long().cumsum(0) - 1  # each prompt's last token, in packed order
    first = llama_forward.logits_of(model, hidden[last])[row_prompt].unsqueeze(1)
    # 2) the responses but their last token (whose prediction no log-prob reads): a row's keys are
    # its prompt's real ones, then its own response's, causally
    length = resp_ids.shape[1] - 1
    reads = in_resp[:, 1:]
    if length == 0 or not bool(reads.any()):
        return torch.cat([first, first.new_zeros((batch, length, first.shape[-1]))], dim=1)
    in_response = torch.nonzero(reads, as_tuple=True)
    resp_causal = torch.ones((length, length), dtype=torch.bool, device=device).tril()
    visible = torch.cat([prefix_mask.bool()[row_prompt][:, None, :].expand(-1, length, -1), resp_causal.expand(batch, -1, -1)], dim=-1)
    resp_bias = torch.zeros(visible.shape, dtype=dtype, device=device).masked_fill(~visible, float("-inf"))[:, None, None]

    def attend_response(layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float) -> torch.Tensor:
        q, k, v = (_unpack(t, in_response, batch, length) for t in (q, k, v))
        keys, values = prompt_kv[layer]
        o = llama_forward.grouped_attention(q, torch.cat([keys, k], dim=2), torch.cat([values, v], dim=2), resp_bias, scale)
        return o.transpose(1, 2)[in_response]

    hidden = llama_forward.decoder_layers(model, resp_ids[:, :-1][in_response], resp_positions[:, :-1][in_response], attend_response)
    rest = llama_forward.logits_of(model, hidden)
    rest = rest.new_zeros((batch, length, rest.shape[-1])).index_put(in_response, rest)
    return torch.cat([first, rest], dim=1)


def _unpack(packed: torch.Tensor, where: tuple[torch.Tensor, torch.Tensor], rows: int, width: int) -> torch.Tensor:
    """Packed ``[N, heads, d]`` -> ``[rows, heads, width, d]``, zeros where no token is (differentiable)."""
    return packed.new_zeros((rows, width) + packed.shape[1:]).index_put(where, packed).transpose(1, 2)
