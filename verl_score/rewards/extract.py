"""Pull the final answer / the program out of a model response, in linear time and with hard caps.

Why our own extraction instead of math-verify's: we need (a) exactly one answer, the LAST one the model committed
to (SCoRe's second attempt often quotes the first), never "any number in the text"; (b) the paper's
"The final answer is $X$" form, ``\\boxed{X}`` and GSM8K's ``#### N``; and (c) a bound on work for adversarial
text (a 1 MB response, thousands of unclosed braces) before anything reaches sympy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: How many candidate anchors (latest first) are tried before giving up; bounds work on ``\boxed{\boxed{...``.
MAX_CANDIDATES = 16


@dataclass(frozen=True)
class Extracted:
    """An extracted answer (or ``None``) with why: ``kind`` names the anchor, ``reason`` the failure."""

    answer: str | None
    kind: str = ""  # "boxed" | "final_answer" | "hashes" | "last_number" | "full_text"
    reason: str = "ok"  # "ok" | "no_answer" | "answer_too_long" | "answer_too_deep" | "response_too_long"


_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FINAL = re.compile(r"final answer(?:\s+is\s*:?|\s*:)[ \t]*", re.IGNORECASE)  # "...is X", "Final Answer: X"
_HASHES = re.compile(r"####[ \t]*([^\n]*)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def _balanced(text: str, open_idx: int, max_chars: int, max_depth: int) -> tuple[str | None, str]:
    """Content of the ``{...}`` group whose ``{`` is at ``open_idx``; bounded by ``max_chars`` and ``max_depth``."""
    depth = 0
    end = min(len(text), open_idx + max_chars + 2)
    i = open_idx
    while i < end:
        ch = text[i]
        if ch == "\\":
            i += 2  # skip escaped char, e.g. \{ or \}
            continue
        if ch == "{":
            depth += 1
            if depth > max_depth:
                return None, "answer_too_deep"
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_idx + 1 : i], "ok"
        i += 1
    return None, "answer_too_long" if end < len(text) else "no_answer"


def _final_answer_span(text: str, start: int, max_chars: int) -> str | None:
    """Answer after "The final answer is": ``$...$`` if present, else up to the sentence end / line end."""
    rest = text[start : start + max_chars + 64]
    if rest.startswith("$$"):
        close = rest.find("$$", 2)
        return rest[2:close] if close != -1 else None
    if rest.startswith("$"):
        i = 1
        while i < len(rest):
            if rest[i] == "\\":
                i += 2
                continue
            if rest[i] == "$":
                return rest[1:i]
            i += 1
        return None
    if rest.startswith("\\boxed") or rest.startswith("\\fbox"):
        return None  # the boxed candidate (a later position) carries it
    line = rest.split("\n", 1)[0]
    line = re.split(r"\.\s+I hope|\.\s*$|\.\s+(?=[A-Z])", line, maxsplit=1)[0]
    return line.strip() or None


def extract_math_answer(
    text: str,
    *,
    max_response_chars: int = 400_000,
    max_answer_chars: int = 1_000,
    max_depth: int = 64,
    fallback: str = "none",
) -> Extracted:
    """The last committed answer in ``text``.

    Candidates are the last ``\\boxed{}`` / ``\\fbox{}``, the last "final answer is X" / "Final Answer: X" (the MPS
    trajectories' form) and the last ``#### N``; the
    one that appears LATEST in the text wins. ``fallback``: ``"none"`` (strict, default), ``"last_number"`` (the
    last number in the text, for formats without an anchor) or ``"full_text"`` (the whole stripped response, for
    short-answer QA).
    """
    if not isinstance(text, str):
        raise TypeError(f"response must be str, got {type(text).__name__}")
    if fallback not in ("none", "last_number", "full_text"):
        raise ValueError(f"fallback must be 'none', 'last_number' or 'full_text', got {fallback!r}")
    if len(text) > max_response_chars:
        return Extracted(None, reason="response_too_long")
    anchors: list[tuple[int, str, int]] = []  # (position, kind, content start)
    anchors += [(m.start(), "boxed", m.end() - 1) for m in _BOXED.finditer(text)][-MAX_CANDIDATES:]
    anchors += [(m.start(), "final_answer", m.end()) for m in _FINAL.finditer(text)][-MAX_CANDIDATES:]
    anchors += [(m.start(), "hashes", m.start(1)) for m in _HASHES.finditer(text)][-MAX_CANDIDATES:]
    anchors.sort(reverse=True)
    failure = "no_answer"
    for pos, kind, content in anchors[:MAX_CANDIDATES]:
        if kind == "boxed":
            answer, why = _balanced(text, content, max_answer_chars, max_depth)
        elif kind == "final_answer":
            answer, why = _final_answer_span(text, content, max_answer_chars), "no_answer"
        else:
            newline = text.find("\n", content)
            answer, why = text[content : newline if newline != -1 else len(text)], "ok"
        if answer is not None:
            answer = clean_answer(answer)
            if len(answer) > max_answer_chars:
                answer, why = None, "answer_too_long"
        if answer:
            return Extracted(answer, kind)
        if why != "no_answer" and failure == "no_answer":
            failure = why
    if failure == "no_answer" and fallback == "last_number":
        numbers = _NUMBER.findall(text[-max_answer_chars * 4 :])
        if numbers:
            return Extracted(numbers[-1].rstrip(".,"), "last_number")
    elif failure == "no_answer" and fallback == "full_text":
        stripped = clean_answer(text)
        if stripped and len(stripped) <= max_answer_chars:
            return Extracted(stripped, "full_text")
    return Extracted(None, reason=failure)


def clean_answer(answer: str) -> str:
    """Trim what surrounds an answer but is not part of it: whitespace, ``$``, a trailing period."""
    answer = answer.strip()
    while len(answer) >= 2 and answer[0] == "$" and answer[-1] == "$":
        answer = answer[1:-1].strip()
    return answer.rstrip(".").strip()


def extract_gold_answer(gold: str) -> str:
    """Gold answers come bare ("72"), as a GSM8K rationale ("... #### 72") or boxed: reduce to the answer."""
    gold = str(gold).strip()
    if "####" in gold or "\\boxed" in gold or "\\fbox" in gold:
        found = extract_math_answer(gold, max_response_chars=10 * len(gold) + 1)
        if found.answer is not None:
            return found.answer
    return clean_answer(gold)


# ---------------------------------------------------------------------------------------------------- code
_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+-]*)[^\n]*\n", re.MULTILINE)
_BEGIN_DONE = re.compile(r"\[BEGIN\](.*?)(?:\[DONE\]|\Z)", re.DOTALL)
_CODE_LANGS = {"", "python", "py", "python3"}


def extract_code(text: str, *, block: str = "last", raw_fallback: bool = True) -> str | None:
    """The program in a response: the last ``[BEGIN]...[DONE]`` block (MBPP's few-shot format), else fenced
    python blocks (``block="last"`` or ``"all"`` concatenated; an unclosed fence runs to the end: truncated
    generations), else the raw text when ``raw_fallback``. Returns ``None`` when nothing looks like code.
    """
    if block not in ("last", "all"):
        raise ValueError(f"block must be 'last' or 'all', got {block!r}")
    begin_done = [m.group(1) for m in _BEGIN_DONE.finditer(text)]
    if begin_done:
        return _strip_fences(begin_done[-1]).strip("\n") + "\n"
    blocks: list[str] = []
    pos = 0
    while True:
        m = _FENCE.search(text, pos)
        if m is None:
            break
        close = re.compile(r"^[ \t]*```[ \t]*$", re.MULTILINE).search(text, m.end())
        body = text[m.end() : close.start() if close else len(text)]
        if m.group(1).lower() in _CODE_LANGS:
            blocks.append(body)
        pos = close.end() if close else len(text)
    if blocks:
        chosen = blocks[-1] if block == "last" else "\n\n".join(b.strip("\n") for b in blocks)
        return chosen.strip("\n") + "\n"
    if raw_fallback and text.strip():
        return text.strip("\n") + "\n"
    return None


def _strip_fences(code: str) -> str:
    lines = [ln for ln in code.strip("\n").split("\n") if not ln.strip().startswith("```")]
    return "\n".join(lines)
