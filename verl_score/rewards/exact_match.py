"""``exact_match``: normalised string equality of the final answer with any accepted gold answer.

Why it exists next to ``math``: short-answer QA (HotpotQA-style) has no mathematical equivalence, and a strict
string check is the cheap, explainable baseline a judge is compared against. Normalisation is SQuAD's (lower case,
no punctuation, no articles, single spaces), so "The Eiffel Tower." equals "eiffel tower".
"""

from __future__ import annotations

import re
import string
import time
from typing import Any

from verl_score.rewards.base import RewardResult
from verl_score.rewards.extract import extract_gold_answer, extract_math_answer
from verl_score.rewards.registry import register_reward

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation, plus stripping ``\\text{}`` wrappers models put around words."""
    text = re.sub(r"\\text\{([^{}]*)\}", r"\1", text)
    text = text.lower().translate(_PUNCT)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


@register_reward("exact_match")
class ExactMatchReward:
    """1.0 when the extracted answer's normal form equals one of the gold answers' normal forms.

    The answer is extracted like ``math`` does (last boxed / "final answer is" / ``####``); ``fallback`` (default
    ``full_text``) decides what happens without such an anchor. Gold may be a string or a list of aliases.
    """

    def __init__(self, fallback: str = "full_text", max_response_chars: int = 400_000, max_answer_chars: int = 1_000):
        self.extract_kwargs = dict(fallback=fallback, max_response_chars=max_response_chars,
                                   max_answer_chars=max_answer_chars)
        extract_math_answer("", **self.extract_kwargs)

    async def __call__(self, solution: str, ground_truth: Any, extra_info: dict[str, Any]) -> RewardResult:
        return self.score(solution, ground_truth)

    def score(self, solution: str, ground_truth: Any) -> RewardResult:
        start = time.perf_counter()
        golds = _gold_list(ground_truth)
        found = extract_math_answer(solution, **self.extract_kwargs)
        extra: dict[str, Any] = {"answer": found.answer, "answer_kind": found.kind,
                                 "answer_found": float(found.answer is not None)}
        if found.answer is None:
            score, reason = 0.0, found.reason
        else:
            normal = normalize_answer(found.answer)
            score = float(any(normal == normalize_answer(g) for g in golds))
            reason = "ok" if score else "wrong"
        extra.update(reason=reason, correct=score, elapsed_ms=(time.perf_counter() - start) * 1e3)
        return RewardResult(score=score, extra=extra)


def _gold_list(ground_truth: Any) -> list[str]:
    if isinstance(ground_truth, str):
        golds = [ground_truth]
    elif isinstance(ground_truth, (int, float)) and not isinstance(ground_truth, bool):
        golds = [str(ground_truth)]
    elif hasattr(ground_truth, "__iter__") and not isinstance(ground_truth, (bytes, dict)):
        golds = [str(g) for g in ground_truth]
    else:
        raise ValueError(f"exact_match needs a string or a list of strings as ground truth, got {ground_truth!r}")
    golds = [extract_gold_answer(g) for g in golds if g.strip()]
    if not golds:
        raise ValueError("exact_match ground truth is empty")
    return golds
