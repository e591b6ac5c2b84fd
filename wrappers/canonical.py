"""Stable, process-independent serialisation and digests of env states.

``hash()`` is salted per process for strings, so anchors built on it would not
match across rollout workers; these functions depend only on the value.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

DIGEST_BYTES = 16


_PLAIN = frozenset({str, int, bool, type(None)})
"""Exact types that serialise as themselves (subclasses such as enums take the general path)."""


def _normalise(x: Any) -> Any:
    t = type(x)
    if t in _PLAIN:
        return x
    if t is tuple or t is list:  # the common shape of anchor states: one pass, no call per plain item
        return [v if type(v) in _PLAIN else _normalise(v) for v in x]
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return repr(x) if not math.isfinite(x) else x
    if isinstance(x, bytes):
        return {"__bytes__": x.hex()}
    if isinstance(x, dict):
        return {"__dict__": sorted(([canonical(k), _normalise(v)] for k, v in x.items()), key=lambda kv: kv[0])}
    if isinstance(x, (set, frozenset)):
        return {"__set__": sorted(canonical(v) for v in x)}
    if isinstance(x, (list, tuple)):
        return [_normalise(v) for v in x]
    if hasattr(x, "dtype") and hasattr(x, "tobytes"):  # numpy array or scalar
        import numpy as np

        a = np.ascontiguousarray(x)
        return {"__array__": [str(a.dtype), list(a.shape), a.tobytes().hex()]}
    if hasattr(x, "item"):
        return _normalise(x.item())
    raise TypeError(
        f"anchor_state contains a {type(x).__name__} ({x!r}); use str, numbers, tuples, lists, dicts, sets or numpy arrays"
    )


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True)
_string = json.encoder.encode_basestring_ascii  # what _ENCODER writes for a str


def _emit(x: Any) -> str:
    """``_ENCODER.encode(_normalise(x))``, written directly for the plain types anchor states are made of.

    JSON is compositional, so a list is its items' texts joined by commas; anything else (dicts,
    sets, floats that are not finite, numpy values, subclasses) takes the general path.
    """
    t = type(x)
    if t is str:
        return _string(x)
    if t is tuple or t is list:
        if x and type(x[0]) is str and type(x[-1]) is str:  # likely all strings (TextWorld's facts)
            try:
                joined = '","'.join(x)
            except TypeError:  # not all strings after all
                joined = None
            if (joined is not None and joined.isascii() and joined.isprintable() and "\\" not in joined
                    and joined.count('"') == 2 * (len(x) - 1)):  # only the separators' quotes
                return '["' + joined + '"]'  # no character needs escaping
        return "[" + ",".join([_string(v) if type(v) is str else _emit(v) for v in x]) + "]"
    if t is int:
        return int.__repr__(x)
    if x is None:
        return "null"
    if t is bool:
        return "true" if x else "false"
    return _ENCODER.encode(_normalise(x))


def canonical(state: Any) -> str:
    """A canonical string for ``state``: equal values give equal strings, in any process.

    Sets and dict keys are sorted, so order of construction does not matter; lists and
    tuples keep their order (and serialise alike). The text is the compact ASCII JSON of
    the normalised value.
    """
    return _emit(state)


def state_digest(state: Any) -> str:
    """Hex blake2b digest of ``canonical(state)``: the GiGPO step-group key."""
    return hashlib.blake2b(canonical(state).encode("ascii"), digest_size=DIGEST_BYTES).hexdigest()
