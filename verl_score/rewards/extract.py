"""Pull the final answer / the program out of a model response, in linear time and with hard caps.

What math-verify's own extraction cannot do, and is therefore written here (everything downstream of "which span
is the answer" is math-verify's, see ``_math_worker.py``):

* **the LAST committed answer wins, across every anchor kind** (``\\boxed{}``, "The final answer is X",
  "Final Answer: X", "so the answer is X", ``#### N``). math-verify ranks anchors by kind first, so on
  self-correction text it prefers an earlier "final answer is 3" over a later ``\\boxed{5}``;
* **several boxes that together form ONE answer** (``\\boxed{-2} \\quad\\text{and}\\quad \\boxed{1}``,
  ``\\boxed{1},\\boxed{2},\\boxed{3}``) are one answer, joined with commas (math-verify reads that as a set);
  two boxes with a revision between them ("Wait, no", a new attempt) are two answers and the later one wins;
* a bound on work for adversarial text (a 1 MB response, thousands of unclosed braces) before anything reaches sympy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: How many candidate anchors (latest first) are tried before giving up; bounds work on ``\boxed{\boxed{...``.
MAX_CANDIDATES = 16
#: ``fallback="math_verify"`` hands math-verify at most this many trailing characters of an anchorless response.
FREE_FORM_TAIL_CHARS = 4_000
FALLBACKS = ("none", "last_number", "full_text", "math_verify")


@dataclass(frozen=True)
class Extracted:
    """An extracted answer (or ``None``) with why: ``kind`` names the anchor, ``reason`` the failure.

    ``text_mode``: the answer is prose around a value ("The volume is 120 cubic units", an anchorless response),
    so math-verify should search it for the answer rather than read it as one latex expression.
    """

    answer: str | None
    kind: str = ""  # boxed | boxed_group | final_answer | answer_is | hashes | statement | free_form | last_number | full_text
    reason: str = "ok"  # ok | no_answer | answer_too_long | answer_too_deep | response_too_long
    text_mode: bool = False


_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_FINAL = re.compile(r"final answer(?:\s+is\s*:?|\s*:)[ \t]*", re.IGNORECASE)  # "...is X", "Final Answer: X"
# an unmarked final statement: "so the answer is 14.", "Answer: 14" (but not "the final answer is", matched above)
_ANSWER_IS = re.compile(
    r"(?:(?<![A-Za-z])(?<!final )(?:the|my|our|correct) (?:correct |right )?answer"
    r"(?: to (?:the|this) (?:problem|question))?\s+(?:is|would be|should be|will be)\s*:?"
    r"|^[ \t*#]*answer\s*:\**)[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
# "...the answer is correct / not 5 / as follows": not a commitment to a value
_NOT_A_VALUE = re.compile(
    r"(?:correct|right|wrong|incorrect|indeed|valid|reasonable|consistent|not\b|that\b|this\b|still\b|also\b"
    r"|the same|as follows|below|above|given by|found|unknown|undefined)", re.IGNORECASE)
_HASHES = re.compile(r"####[ \t]*([^\n]*)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
# what may stand between two boxes of ONE answer: punctuation, "and"/"or", spacing, math delimiters, "x ="
_JOINER = re.compile(
    r"(?:\s|[,;&$]|\\\\|\\[,;:! ]|\\q?quad\b|\\(?:text|mbox|textrm|mathrm)\s*\{\s*(?:,|and|or|&)?\s*\}|\band\b|\bor\b"
    r"|\\[\[\]()]|\\(?:end|begin)\{(?:align|aligned|gather|gathered|cases|array)\*?\}"
    r"|[A-Za-z](?:_\{?\w+\}?)?\s*=)*",
)
# free-form text: the value a closing statement commits to ("The number of involutions ... is 76.", "There are
# 239 strings ...", "... is \\( a = -5 \\)"): the first "is/are/equals VALUE" of the last sentence
_NUM = r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?(?:\s*/\s*\d+)?|-?\.\d+"
_STATEMENT = re.compile(
    r"\b(?:is|are|equals|was|be)\s+(?:exactly\s+|equal to\s+|given by\s+)?"
    r"(?P<value>\$[^$\n]{1,200}\$|\\\((?:[^\\\n]|\\(?!\)))+?\\\)|(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?(?:" + _NUM + r"))"
    r"(?=\s*(?:$|[.,;:!)]|\s(?!\s*[-+*/^]\s*\d)))"
)
_SENTENCE_END = re.compile(r"[.!?](?:\s+|$)(?=[A-Z\\$(]|$)")
_WORD = re.compile(r"(?<!\\)\b[A-Za-z]{3,}\b")
_LATEX_TEXT = re.compile(r"\\(?:text|mbox|textrm|mathrm|textbf|operatorname)\s*\{[^{}]*\}|\\[A-Za-z]+")


def _balanced(text: str, open_idx: int, max_chars: int, max_depth: int) -> tuple[str | None, str, int]:
    """``(content, reason, end)`` of the ``{...}`` group whose ``{`` is at ``open_idx``; bounded by ``max_chars``
    and ``max_depth``. ``end`` is the index after the closing brace."""
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
                return None, "answer_too_deep", i
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_idx + 1 : i], "ok", i + 1
        i += 1
    return None, "answer_too_long" if end < len(text) else "no_answer", i


def _sentence_span(text: str, start: int, max_chars: int) -> str | None:
    """Answer after an anchor: ``$...$`` / ``\\(...\\)`` if it opens the span, else up to the sentence / line end."""
    rest = text[start : start + max_chars + 64]
    if rest.startswith("$$"):
        close = rest.find("$$", 2)
        return rest[2:close] if close != -1 else None
    if rest.startswith("\\[") or rest.startswith("\\("):
        close = rest.find("\\]" if rest[1] == "[" else "\\)", 2)
        return rest[2:close] if close != -1 else None
    first_line = rest.split("\n", 1)[0]
    if rest.startswith("$") and first_line.count("$") - first_line.count("\\$") >= 2:
        i = 1
        while i < len(rest):
            if rest[i] == "\\":
                i += 2
                continue
            if rest[i] == "$":
                after = rest[i + 1 :].split("\n", 1)[0]
                tail = re.split(r"\.\s|\.$|\bI hope", after, maxsplit=1)[0]
                # "$28$ dollars", "$5$ and $6$": keep what belongs to the answer on the same clause
                if tail.strip() and not re.fullmatch(r"\s*[.,;:!]?\s*", tail):
                    return rest[: i + 1] + tail.rstrip()
                return rest[1:i]
            i += 1
        return None
    if rest.startswith("\\boxed") or rest.startswith("\\fbox"):
        return None  # the boxed candidate (a later position) carries it
    line = rest.split("\n", 1)[0]
    line = re.split(r"\.\s+I hope|\.\s*$|\.\s+(?=[A-Z])|\s+I hope it is correct", line, maxsplit=1)[0]
    return line.strip() or None


def _statement_value(text: str) -> str | None:
    """The value the last sentence of free-form text states (see ``_STATEMENT``), or ``None``."""
    body = text.rstrip()
    paragraphs = [p for p in body.split("\n") if p.strip()]
    if not paragraphs:
        return None
    last = paragraphs[-1][-2_000:]
    ends = [m.end() for m in _SENTENCE_END.finditer(last) if m.end() < len(last.rstrip())]
    sentence = last[ends[-1]:] if ends else last
    m = _STATEMENT.search(sentence)
    if m is None:
        return None
    value = m.group("value").strip()
    if value.startswith("\\("):
        value = value[2:-2]
    value = clean_answer(value)
    if "=" in value:  # "a = -5", "L_u - L_v = 0": the value is the right-hand side
        value = value.rsplit("=", 1)[1].strip()
    return value or None


def _too_deep(text: str, max_depth: int) -> bool:
    """Brackets nested deeper than ``max_depth`` (latex2sympy recurses per level): refused before sympy sees it."""
    depth = peak = 0
    for ch in text:
        if ch in "{([":
            depth += 1
            peak = max(peak, depth)
        elif ch in "})]" and depth:
            depth -= 1
    return peak > max_depth


def _is_prose(answer: str) -> bool:
    """An answer with words in it ("The volume is 120", "12 apples", "$5$ and $6$"): math-verify should search
    it for the value instead of parsing it as one expression."""
    if re.search(r"(?<!\\)\$", answer):  # an unescaped math delimiter: "$28$ dollars", "$5$ and $6$"
        return True
    return bool(_WORD.search(_LATEX_TEXT.sub(" ", answer)))


def _boxed_group(text: str, pos: int, content_at: int, max_chars: int, max_depth: int,
                 boxes: list[tuple[int, int]]) -> tuple[str | None, str, int]:
    """The box at ``pos`` plus the earlier boxes joined to it only by ``_JOINER`` text (one multi-part answer).

    ``boxes``: every ``(start, content_open_brace)`` in the text, ascending. Returns ``(answer, reason, n_boxes)``.
    """
    answer, why, _ = _balanced(text, content_at, max_chars, max_depth)
    if answer is None:
        return None, why, 0
    parts = [answer]
    idx = next(i for i, b in enumerate(boxes) if b[0] == pos)
    current_start = pos
    while idx > 0 and len(parts) < MAX_CANDIDATES:
        prev_start, prev_open = boxes[idx - 1]
        prev, prev_why, prev_end = _balanced(text, prev_open, max_chars, max_depth)
        if prev is None or prev_end > current_start:  # nested (\boxed{\boxed{..}}) or broken: stop
            break
        between = text[prev_end:current_start]
        if len(between) > 80 or _JOINER.fullmatch(between) is None:
            break
        parts.insert(0, prev)
        current_start, idx = prev_start, idx - 1
    return ", ".join(p.strip() for p in parts), "ok", len(parts)


def extract_math_answer(
    text: str,
    *,
    max_response_chars: int = 400_000,
    max_answer_chars: int = 1_000,
    max_depth: int = 64,
    fallback: str = "none",
) -> Extracted:
    """The last committed answer in ``text``.

    Candidates: every ``\\boxed{}`` / ``\\fbox{}`` (adjacent boxes of one answer grouped), "final answer is X" /
    "Final Answer: X", "the answer is X" / a line "Answer: X", and ``#### N``; the one that appears LATEST in the
    text wins (an anchor whose span is empty or not a value, e.g. "the answer is correct", defers to the one
    before). ``fallback`` when there is no anchor: ``"none"`` (strict), ``"last_number"`` (the last number),
    ``"full_text"`` (the whole stripped response, for short-answer QA) or ``"math_verify"``: the value the
    closing sentence states ("The number of involutions on {1,...,6} is 76.": ``statement``, where math-verify
    would take the last number, 6), else the response's last ``FREE_FORM_TAIL_CHARS`` characters for math-verify's
    own anchorless extraction (``free_form``, ``text_mode``).
    """
    if not isinstance(text, str):
        raise TypeError(f"response must be str, got {type(text).__name__}")
    if fallback not in FALLBACKS:
        raise ValueError(f"fallback must be one of {FALLBACKS}, got {fallback!r}")
    if len(text) > max_response_chars:
        return Extracted(None, reason="response_too_long")
    boxes = [(m.start(), m.end() - 1) for m in _BOXED.finditer(text)]
    anchors: list[tuple[int, str, int]] = []  # (position, kind, content start)
    anchors += [(start, "boxed", brace) for start, brace in boxes[-MAX_CANDIDATES:]]
    anchors += [(m.start(), "final_answer", m.end()) for m in _FINAL.finditer(text)][-MAX_CANDIDATES:]
    anchors += [(m.start(), "answer_is", m.end()) for m in _ANSWER_IS.finditer(text)][-MAX_CANDIDATES:]
    anchors += [(m.start(), "hashes", m.start(1)) for m in _HASHES.finditer(text)][-MAX_CANDIDATES:]
    anchors.sort(reverse=True)
    failure = "no_answer"
    for pos, kind, content in anchors[:MAX_CANDIDATES]:
        if kind == "boxed":
            answer, why, n = _boxed_group(text, pos, content, max_answer_chars, max_depth, boxes)
            kind = "boxed_group" if n > 1 else kind
        elif kind in ("final_answer", "answer_is"):
            answer, why = _sentence_span(text, content, max_answer_chars), "no_answer"
            if kind == "answer_is" and answer is not None and _NOT_A_VALUE.match(answer.lstrip("$ ")):
                answer = None
        else:
            newline = text.find("\n", content)
            answer, why = text[content : newline if newline != -1 else len(text)], "ok"
        if answer is not None:
            answer = clean_answer(answer)
            if len(answer) > max_answer_chars:
                answer, why = None, "answer_too_long"
            elif kind != "boxed" and _too_deep(answer, max_depth):
                answer, why = None, "answer_too_deep"
        if answer:
            return Extracted(answer, kind, text_mode=kind != "boxed" and kind != "boxed_group" and _is_prose(answer))
        if why != "no_answer" and failure == "no_answer":
            failure = why
    if failure != "no_answer":
        return Extracted(None, reason=failure)
    if fallback == "last_number":
        numbers = _NUMBER.findall(text[-max_answer_chars * 4 :])
        if numbers:
            return Extracted(numbers[-1].rstrip(".,"), "last_number")
    elif fallback == "full_text":
        stripped = clean_answer(text)
        if stripped and len(stripped) <= max_answer_chars:
            return Extracted(stripped, "full_text")
    elif fallback == "math_verify" and text.strip():
        tail = text[-FREE_FORM_TAIL_CHARS:]
        if len(text) > FREE_FORM_TAIL_CHARS and "\n" in tail:
            tail = tail[tail.index("\n") + 1 :]  # start on a line boundary, never mid-formula
        if _too_deep(tail, max_depth):
            return Extracted(None, reason="answer_too_deep")
        stated = _statement_value(tail)
        if stated is not None and len(stated) <= max_answer_chars:
            return Extracted(stated, "statement")
        return Extracted(tail.strip(), "free_form", text_mode=True)
    return Extracted(None, reason=failure)


def clean_answer(answer: str) -> str:
    """Trim what surrounds an answer but is not part of it: whitespace, ``$``, a trailing period."""
    answer = answer.strip()
    while len(answer) >= 2 and answer[0] == "$" and answer[-1] == "$" and answer.count("$") == 2:
        answer = answer[1:-1].strip()
    while len(answer) >= 4 and answer.startswith("$$") and answer.endswith("$$") and answer.count("$") == 4:
        answer = answer[2:-2].strip()
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
