"""The forward of a Llama-architecture causal LM as plain torch ops on the model's own weights.

For a small model on CPU a ``model(...)`` call is mostly framework overhead: module hooks, mask
builders, the cache object and output dataclasses cost more than the arithmetic of a 2-layer
model. ``decoder_layers`` does the same arithmetic (RMSNorm, the model's own ``rotary_emb``,
grouped-query attention, SiLU-gated MLP) and leaves attention to a callback, so one body serves
the decode loop's key/value buffers (``llama_decode``) and the shared-prefix training forward
(``hiergym.algos.shared_prefix``). Weights are read in place, under autograd when it is on: an
optimiser step is seen by the next call and gradients reach the model's own parameters. Models it
does not reproduce exactly (``supports`` is False) keep their own forward.
"""

from __future__ import annotations

from typing import Any, Callable

SUPPORTED_MODEL_TYPES = frozenset({"llama", "qwen2"})
"""Architectures whose decoder layer is exactly pre-norm attention + gated MLP with full (not sliding-window) attention."""

_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")
_MLP = ("gate_proj", "up_proj", "down_proj")

Attend = Callable[[int, Any, Any, Any, float], Any]
"""``attend(layer, q, k, v, scale) -> o`` over packed tokens: q ``[N, H, d]``, k/v ``[N, KV, d]`` (rotary applied), o ``[N, H, d]``."""


def supports(model: Any) -> bool:
    """Whether ``model`` is a causal LM this forward reproduces exactly (else use the model's own forward).

    Every projection must be a plain ``torch.nn.Linear``: an adapter (LoRA) wrapped around one adds
    a term its ``.weight`` does not hold, which this forward would silently drop.
    """
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) not in SUPPORTED_MODEL_TYPES:
        return False
    if getattr(config, "pretraining_tp", 1) != 1 or getattr(config, "use_sliding_window", False):
        return False
    if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or ()):
        return False
    base = getattr(model, "model", None)
    if not (all(hasattr(base, name) for name in ("embed_tokens", "layers", "norm", "rotary_emb")) and hasattr(model, "lm_head")):
        return False
    import torch

    linears = [model.lm_head] + [getattr(layer.self_attn, n, None) for layer in base.layers for n in _PROJECTIONS]
    linears += [getattr(layer.mlp, n, None) for layer in base.layers for n in _MLP]
    return all(type(m) is torch.nn.Linear for m in linears)


def supports_training(model: Any) -> bool:
    """``supports`` for a forward under autograd: no attention dropout and no gradient checkpointing (neither is reproduced)."""
    if not supports(model):
        return False
    dropout = float(getattr(model.config, "attention_dropout", 0.0) or 0.0)
    return not (dropout > 0 and model.training) and not getattr(model.model, "gradient_checkpointing", False)  # where Hugging Face sets it


def rms_norm(x: Any, norm: Any) -> Any:
    """Llama's RMSNorm: normalised in float32, scaled in the input dtype."""
    import torch

    dtype = x.dtype
    x32 = x if dtype == torch.float32 else x.to(torch.float32)
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
    return norm.weight * (x32 if dtype == torch.float32 else x32.to(dtype))


def _rotate(x: Any, cos: Any, sin: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def rotary_table(model: Any, length: int, device: Any) -> tuple[Any, Any] | None:
    """``([length, d] cos, [length, d] sin)`` of positions ``0..length-1`` from the model's own ``rotary_emb``.

    A position's row does not depend on the others, so a loop that calls ``decoder_layers`` once
    per token looks rows up here instead of running the module every step. None for a dynamic
    rope, whose frequencies depend on the longest position seen so far.
    """
    import torch

    base = model.model
    if "dynamic" in str(getattr(base.rotary_emb, "rope_type", "default")):
        return None
    like = base.embed_tokens.weight[:1][None]
    cos, sin = base.rotary_emb(like, torch.arange(length, device=device)[None])
    return cos[0], sin[0]


def head_dim(model: Any) -> int:
    config = model.config
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def grouped_attention(q: Any, keys: Any, values: Any, bias: Any, scale: float) -> Any:
    """``[B, H, L, d]`` attention of queries over ``[B, KV, K, d]`` keys/values with an additive ``bias`` broadcast to ``[B, 1, 1, L, K]``.

    Plain matmuls, a query head ``h`` reading KV head ``h // (H / KV)`` as ``repeat_kv`` does: for the
    one query of a decode step they cost less than SDPA's CPU kernel and its mask conversion
    (measured); the training forward's short queries use the same code.
    """
    import torch

    batch, heads, length, dim = q.shape
    kv_heads, group = keys.shape[1], heads // keys.shape[1]
    grouped = q.reshape(batch, kv_heads, group * length, dim)  # the G query heads of a KV head, stacked: one plain batched matmul
    scores = (torch.matmul(grouped, keys.transpose(-1, -2)) * scale).view(batch, kv_heads, group, length, -1) + bias
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32)
    weights = (weights if q.dtype == torch.float32 else weights.to(q.dtype)).view(batch, kv_heads, group * length, -1)
    return torch.matmul(weights, values).reshape(batch, heads, length, dim)


def decoder_layers(model: Any, ids: Any, positions: Any, attend: Attend, rotary: tuple[Any, Any] | None = None) -> Any:
    """Hidden states ``[N, hidden]`` after every decoder layer (before the final norm) for the tokens ``ids`` ``[N]`` at ``positions`` ``[N]``.

    Tokens are packed: everything but attention works token by token, so a caller passes only the
    tokens it needs (no padding) and ``attend`` places them in whatever layout its keys and values
    live in. ``rotary``: a ``rotary_table`` covering ``positions`` (default: the model's
    ``rotary_emb`` on them).
    """
    import torch
    import torch.nn.functional as F

    base = model.model
    dim = head_dim(model)
    x = F.embedding(ids, base.embed_tokens.weight)
    if rotary is None:
        cos, sin = base.rotary_emb(x[None], positions[None])
        cos, sin = cos[0, :, None], sin[0, :, None]
    else:
        cos, sin = rotary[0][positions, None], rotary[1][positions, None]
    count = ids.shape[0]
    for index, layer in enumerate(base.layers):
        attn, mlp = layer.self_attn, layer.mlp
        h = rms_norm(x, layer.input_layernorm)
        q = F.linear(h, attn.q_proj.weight, attn.q_proj.bias).view(count, -1, dim)
        k = F.linear(h, attn.k_proj.weight, attn.k_proj.bias).view(count, -1, dim)
        v = F.linear(h, attn.v_proj.weight, attn.v_proj.bias).view(count, -1, dim)
        q, k = _rotate(torch.cat([q, k], dim=1), cos, sin).split([q.shape[1], k.shape[1]], dim=1)  # one rotation for both
        o = attend(index, q, k, v, attn.scaling)
        x = x + F.linear(o.reshape(count, -1), attn.o_proj.weight, attn.o_proj.bias)
        h = rms_norm(x, layer.post_attention_layernorm)
        x = x + F.linear(mlp.act_fn(F.linear(h, mlp.gate_proj.weight, mlp.gate_proj.bias)) * F.linear(h, mlp.up_proj.weight, mlp.up_proj.bias),
                         mlp.down_proj.weight, mlp.down_proj.bias)
    return x


def logits_of(model: Any, hidden: Any) -> Any:
    """The head over the final norm of ``hidden`` (any leading shape)."""
    import torch.nn.functional as F

    head = model.lm_head
    return F.linear(rms_norm(hidden, model.model.norm), head.weight, head.bias)
