"""``LlamaKVDecoder``: the KV-cache decode loop of a Llama-architecture model, on ``llama_forward``'s plain-op forward.

For a small model on CPU a decode step through ``model(...)`` is nearly all framework overhead
(~3 ms for a 2-layer model whose arithmetic takes a fraction of that). Here keys and values go into
buffers preallocated for prompt + answer, and the one-query attention of a step is two plain
matmuls with an additive padding mask. (Stacking q/k/v and gate/up into one matmul each was
measured: no gain at this size, so the code stays plain.) Logits match the model's own forward up
to float rounding (tests/agents/test_llama_decode.py). Models it does not cover (``supports`` is
False) keep the generic loop.
"""

from __future__ import annotations

from typing import Any

from .llama_forward import SUPPORTED_MODEL_TYPES, decoder_layers, grouped_attention, head_dim, logits_of, rotary_table, supports

__all__ = ["SUPPORTED_MODEL_TYPES", "LlamaKVDecoder", "supports"]


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
        self.model = model
        weight = model.model.embed_tokens.weight
        shape = (batch, config.num_key_value_heads, max_len, head_dim(model))
        self.keys = [torch.zeros(shape, dtype=weight.dtype, device=weight.device) for _ in model.model.layers]
        self.values = [torch.zeros(shape, dtype=weight.dtype, device=weight.device) for _ in model.model.layers]
        self.key_bias = torch.full((batch, 1, 1, 1, max_len), float("-inf"), dtype=weight.dtype, device=weight.device)
        """Additive attention mask of a decode step: 0 where a row has a real key, -inf at its left padding."""
        self.rotary = rotary_table(model, max_len, weight.device)
        """cos/sin of every position a row can reach (left padding keeps positions below ``max_len``)."""
        self.length = 0

    def prefill(self, input_ids: Any, attention_mask: Any, position_ids: Any, rows: Any | None = None) -> Any:
        """Logits ``[R, V]`` of each prompt's last token; the buffers of batch row i get prompt ``rows[i]``'s keys and values.

        ``input_ids``/``attention_mask``/``position_ids`` are ``[R, P]`` (R distinct prompts, left-padded);
        ``rows`` (``[batch]`` indices into them) lets a group's copies of one prompt share its prefill.
        """
        import torch
        import torch.nn.functional as F

        distinct, width = input_ids.shape
        valid = attention_mask.bool()
        causal = torch.ones((width, width), dtype=torch.bool, device=valid.device).tril()
        mask = ((causal[None] & valid[:, None, :]) | torch.eye(width, dtype=torch.bool, device=valid.device)[None])[:, None]  # a pad query sees itself: no all-masked row
        pick = (lambda t: t) if rows is None else (lambda t: t.index_select(0, rows))

        def attend(layer: int, q: Any, k: Any, v: Any, scale: float) -> Any:
            q, k, v = (t.view(distinct, width, -1, t.shape[-1]).transpose(1, 2) for t in (q, k, v))
            self.keys[layer][:, :, :width] = pick(k)
            self.values[layer][:, :, :width] = pick(v)
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, enable_gqa=True)
            return o.transpose(1, 2).reshape(distinct * width, -1, o.shape[-1])

        hidden = decoder_layers(self.model, input_ids.reshape(-1), position_ids.reshape(-1), attend, self.rotary).view(distinct, width, -1)
        self.key_bias[:, 0, 0, 0, :width] = torch.zeros_like(self.key_bias[:, 0, 0, 0, :width]).masked_fill(~pick(valid), float("-inf"))
        self.length = width
        return logits_of(self.model, pick(hidden[:, -1]))

    def step(self, token_ids: Any, position_ids: Any) -> Any:
        """Logits ``[batch, V]`` after appending ``token_ids`` (``[batch]``) at ``position_ids`` (``[batch]``)."""
        at = self.length
        self.key_bias[..., at] = 0.0
        self.length = end = at + 1
        bias = self.key_bias[..., :end]

        def attend(layer: int, q: Any, k: Any, v: Any, scale: float) -> Any:
            self.keys[layer][:, :, at] = k
            self.values[layer][:, :, at] = v
            return grouped_attention(q[:, :, None], self.keys[layer][:, :, :end], self.values[layer][:, :, :end], bias, scale)[:, :, 0]

        hidden = decoder_layers(self.model, token_ids, position_ids, attend, self.rotary)
        return logits_of(self.model, hidden)
