"""Answer scoring as in SQuAD: normalised exact match and token F1.

``normalize_answer`` lower-cases, drops punctuation and the articles a/an/the, and collapses
white space (SQuAD v1.1's official evaluation script does the same), so "The Torvex Labs." and
"torvex labs" are the same answer.
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token-level F1 of the normalised strings (SQuAD): harmonic mean of precision and recall of shared tokens."""
    return _f1(normalize_answer(prediction).split(), normalize_answer(gold).split())


def answer_scores(prediction: str, gold: str) -> tuple[float, float]:
    """``(exact_match, f1_score)`` of ``prediction`` against ``gold``, normalising each string once."""
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    return float(pred == ref), _f1(pred.split(), ref.split())


def _f1(pred: list[str], ref: list[str]) -> float:
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)
