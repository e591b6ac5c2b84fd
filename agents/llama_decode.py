"""``LlamaKVDecoder``: the KV-cache forward of a Llama-architecture model, written against its own weights.

For a small model on CPU a decode step is nearly all framework overhead: ``model(...)`` per token
goes through module hooks, mask builders, the cache object and output dataclasses, ~3 ms for a
2-layer model whose arithmetic takes a fraction of that. This forward does the same arithmetic
(RMSNorm, rotary embedding from the model's own ``rotary_emb``, grouped-query attention, SiLU-gated
MLP, tied or untied head) on preallocated key/value buffers, reading the weights in place: a
trainer's update is seen by the next call, nothing is copied. (Stacking q/k/v and gate/up into one
matmul each was measured: no gain at this size, so the code stays plain.) Logits match the model's
own forward up to float rounding (tests/agents/test_llama_decode.py). Models it does not cover
(``supports`` is False) keep the generic loop.
"""

from __future__ import annotations

from typing import Any

SUPPORTED_MODEL_TYPES = frozenset({"llama", "qwen2"})
"""Architectures whose decoder layer is exactly pre-norm attention + gated MLP with full (not sliding-window) attention."""


def supports(model: Any) -> bool:
    """Whether ``model`` is a causal LM this forward reproduces exactly (else use the model's own forward)."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "model_type", None) not in SUPPORTED_MODEL_TYPES:
        return False
    if getattr(config, "pretraining_tp", 1) != 1 or getattr(config, "use_sliding_window", False):
        return False
    if any(kind != "full_attention" for kind in getattr(config, "layer_types", None) or ()):
        return False
    base = getattr(model, "model", None)
    return all(hasattr(base, name) for name in ("embed_tokens", "layers", "norm", "rotary_emb")) and hasattr(model, "lm_head")


def _rms_norm(x: Any, norm: Any) -> Any:
    import torch

    dtype = x.dtype
    x32 = x.to(torch.float32)
    x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + norm.variance_epsilon)
    return norm.weight * x32.to(dtype)


def _rotate(x: Any, cos: Any, sin: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def _one_query_attention(q: Any, keys: Any, values: Any, bias: Any, scale: float) -> Any:
    """``[B, 1, H, d]`` attention of one new query per row over ``[B, KV, L, d]`` keys/values (grouped heads share a KV head).

    Plain matmuls: for one query and a short cache they cost less than SDPA's CPU kernel and its mask conversion.
    """
    import torch

    batch, heads, _, dim = q.shape
    kv_heads = keys.shape[1]
    grouped = q.reshape(batch, kv_heads, heads // kv_heads, dim)  # head h reads KV head h // group, as repeat_kv does
    weights = torch.softmax(torch.matmul(grouped, keys.transpose(-1, -2)) * scale + bias, dim=-1, dtype=torch.float32).to(q.dtype)
    return torch.matmul(weights, values).reshape(batch, 1, heads, dim)


class LlamaKVDecoder:
    """Prefill a batch of left-padded prompts, then one token per ``step``, attending over its own key/value buffers.

    Args:
        model: a ``LlamaForCausalLM``-shaped model (``supports(model)``), used in place.
        batch: rows decoded together.
        max_len: prompt width + the most tokens ``step`` will be called for.
    """

    def __init__(self, model: Any, batch: int, max_len: int):
        import torch

        config = model.config
        self.model, self.base = model, model.model
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        weight = self.base.embed_tokens.weight
        shape = (batch, config.num_key_value_heads, max_len, self.head_dim)
        self.keys = [torch.zeros(shape, dtype=weight.dtype, device=weight.device) for _ in self.base.layers]
        self.values = [torch.zeros(shape, dtype=weight.dtype, device=weight.device) for _ in self.base.layers]
        self.key_bias = torch.full((batch, 1, 1, max_len), float("-inf"), dtype=weight.dtype, device=weight.device)
        """Additive attention mask of a decode step: 0 where a row has a real key, -inf at its left padding."""
        self.length = 0

    def prefill(self, input_ids: Any, attention_mask: Any, position_ids: Any, rows: Any | None = None) -> Any:
        """Logits ``[R, V]`` of each prompt's last token; the buffers of batch row i get prompt ``rows[i]``'s keys and values.

        ``input_ids``/``attention_mask``/``position_ids`` are ``[R, P]`` (R distinct prompts, left-padded);
        ``rows`` (``[batch]`` indices into them) lets a group's copies of one prompt share its prefill.
        """
        import torch

        width = input_ids.shape[1]
        valid = attention_mask.bool()
        causal = torch.ones((width, width), dtype=torch.bool, device=valid.device).tril()
        mask = (causal[None] & valid[:, None, :]) | torch.eye(width, dtype=torch.bool, device=valid.device)[None]  # a pad query sees itself: no all-masked row
        hidden, kv = self._layers(input_ids, position_ids, mask[:, None], None)
        pick = (lambda t: t) if rows is None else (lambda t: t.index_select(0, rows))
        for layer, (k, v) in enumerate(kv):
            self.keys[layer][:, :, :width] = pick(k)
            self.values[layer][:, :, :width] = pick(v)
        self.key_bias[:, 0, 0, :width] = torch.zeros_like(self.key_bias[:, 0, 0, :width]).masked_fill(~pick(valid), float("-inf"))
        self.length = width
        return self._logits(pick(hidden[:, -1]))

    def step(self, token_ids: Any, position_ids: Any) -> Any:
        """Logits ``[batch, V]`` after appending ``token_ids`` (``[batch]``) at ``position_ids`` (``[batch]``)."""
        at = self.length
        self.key_bias[:, :, :, at] = 0.0
        self.length = at + 1
        hidden, _ = self._layers(token_ids[:, None], position_ids[:, None], self.key_bias[..., : self.length], at)
        return self._logits(hidden[:, -1])

    def _layers(self, ids: Any, positions: Any, mask: Any, at: int | None) -> tuple[Any, list[tuple[Any, Any]]]:
        """Run every decoder layer; ``at`` None = a self-contained prefill (returns its keys/values), else write at ``at``."""
        import torch
        import torch.nn.functional as F

        x = F.embedding(ids, self.base.embed_tokens.weight)
        cos, sin = self.base.rotary_emb(x, positions)
        cos, sin = cos[:, None], sin[:, None]
        batch, length = ids.shape
        kv = []
        for index, layer in enumerate(self.base.layers):
            attn, mlp = layer.self_attn, layer.mlp
            h = _rms_norm(x, layer.input_layernorm)
            q = F.linear(h, attn.q_proj.weight, attn.q_proj.bias).view(batch, length, -1, self.head_dim).transpose(1, 2)
            k = F.linear(h, attn.k_proj.weight, attn.k_proj.bias).view(batch, length, -1, self.head_dim).transpose(1, 2)
            v = F.linear(h, attn.v_proj.weight, attn.v_proj.bias).view(batch, length, -1, self.head_dim).transpose(1, 2)
            q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
            if at is None:
                kv.append((k, v))
                o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=attn.scaling, enable_gqa=True).transpose(1, 2)
            else:
                self.keys[index][:, :, at] = k[:, :, 0]
                self.values[index][:, :, at] = v[:, :, 0]
                o = _one_query_attention(q, self.keys[index][:, :, : at + 1], self.values[index][:, :, : at + 1], mask, attn.scaling)
            x = x + F.linear(o.reshape(batch, length, -1), attn.o_proj.weight, attn.o_proj.bias)
            h = _rms_norm(x, layer.post_attention_layernorm)
            x = x + F.linear(mlp.act_fn(F.linear(h, mlp.gate_proj.weight, mlp.gate_proj.bias)) * F.linear(h, mlp.up_proj.weight, mlp.up_proj.bias),
                             mlp.down_proj.weight, mlp.down_proj.bias)
        return x, kv

    def _logits(self, last_hidden: Any) -> Any:
        import torch.nn.functional as F

        head = self.model.lm_head
        return F.linear(_rms_norm(last_hidden, self.base.norm), head.weight, head.bias)
