"""``VLLMBackend`` placeholder: vLLM support is a later issue (it needs CUDA and pins its own torch).

Importing this module is safe; constructing the backend raises a clear error, so a
config that asks for vLLM fails fast instead of silently falling back.
"""

from __future__ import annotations

from typing import Any

from hiergym.error import ConfigError


class VLLMBackend:
    """Not implemented yet: the ``Backend`` protocol is ready for it (``generate(prompts, sampling, role=...)``)."""

    def __init__(self, *args: Any, **kwargs: Any):
        try:
            import vllm  # noqa: F401
        except ImportError as e:
            raise ConfigError("backend", "vllm", "install the optional extra `pip install hiergym[vllm]` on a CUDA machine") from e
        raise ConfigError("backend", "vllm", "'transformers' for now; the vLLM backend is a planned feature (docs/design.md, 'Planned, not built yet')")
