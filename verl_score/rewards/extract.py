"""Pull the final answer / the program out of a model response, in linear time and with hard caps.

What math-verify's own extraction cannot do, and is therefore written here (everything downstream of "which span
is the answer" is math-verify's, see ``_math_worker.py``):

* **the LAST committed answer wins, across every anchor kind** (``\\boxed{}``, "The final answer is X",
  "Final Answer: X", "so the answer is X", ``#### N``). math-verify ranks anchors by kind first, so on
  self-correction text it prefers an earlier "final answer is 3" over a later ``\\boxed{5}``;
* **several boxes that together form ONE answer** (``\\boxed{-2} \\quad\\text{and}\\quad \\boxed{1}``,
  ``\\boxed{1},\\boxed{2},\\boxed{3}``) are one answer, joined with commas (math-verify reads that as a set);
  two boxes with a revision between them ("Wait, no", a new attempt) are two answers and the later one wins;
* **a latex environment is one value in every anchor form**: ``\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}`` (also
  ``bmatrix``, ``array``, ``cases``, ``aligned``) after "The final answer is" is taken whole, its ``&`` and line breaks
  included (the value scan used to stop at the first ``&``);
* **the value an anchor states, without its trailing clause**: "The final answer is 20 cookies for all 3 trays." is
  20, "The answer is 6, not 5." is 6 (math-verify reads such a span as prose and takes its LAST number); an anchor
  stating no value ("the final answer is correct") defers to the one before; a hedge ("either 5 or 6") is a set;
* **but with the words that are part of that value**: a scale word in every anchor form ("The final answer is 3
  thousand." and ``\\boxed{2} million`` are 3000 and 2000000, never 3 and 2), and after a stated value a fraction
  word or a word that makes it another value ("3 eighths", "12 less than ...", "4 choose two"; ``dressed.py`` reads
  them);
* a bound on work for adversarial text (a 1 MB response, thousands of unclosed braces) before anything reaches sympy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verl_score.rewards.dressed import FRACTION_WORDS, NUMBER_WORDS, SCALE_WORDS, number_word

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
# "...final answer is X", "Final Answer: X", "**Final Answer**: X", a heading "**Final Answer**" / "Final answer:" with
# the value on the next non-blank line
_FINAL = re.compile(
    r"final answer(?:\s+is\b\s*:?|\**[ \t]*:|\**(?=[ \t]*\n))\**[ \t]*(?:\n\s*)?", re.IGNORECASE)
# an unmarked final statement: "so the answer is 14.", "Answer: 14" (but not "the final answer is", matched above)
_ANSWER_IS = re.compile(
    r"(?:(?<![A-Za-z])(?<!final )(?:the|my|our|correct) (?:correct |right )?answer"
    r"(?: to (?:the|this) (?:problem|question))?\s+(?:is|would be|should be|will be)\s*:?"
    r"|^[ \t*#]*answer\**\s*:\**)[ \t]*",
    re.IGNORECASE | re.MULTILINE,
)
# "...the answer is correct / not 5 / as follows": not a commitment to a value
_NOT_A_VALUE = re.compile(
    r"(?:correct|right|wrong|incorrect|indeed|valid|reasonable|consistent|not\b|that\b|this\b|still\b|also\b"
    r"|the same|as follows|below|above|given by|found|unknown|undefined|verified|see\b|in\b|expressed|rounded"
    r"|an? (?:integer|whole|positive|negative|real|rational|prime|even|odd)|plausible|sensible"
    r"|confirmed|checked|accurate|obtained|shown|boxed|clear|obvious)", re.IGNORECASE)
#: a word-only answer a grader accepts ("Final Answer: No"); any other span without a value is not an answer
_WORD_ANSWER = re.compile(r"(?:yes|no|true|false|none)", re.IGNORECASE)
_MARKDOWN = re.compile(r"\*\*|__|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")  # bold / italic markers, not 5*4
# words that may open an answer span before its value ("either 5 or 6", "between 5 and 6": a hedge, see _span_value)
_LEAD = re.compile(r"(?:either|both|between|exactly|approximately|about|equal to|=)\s+", re.IGNORECASE)
# one token of a value: a latex command (its brace groups are taken whole by the scanner), an escape, a digit or
# operator, spacing, a single-letter variable; a word of two or more letters ends the value
_VALUE_TOKEN = re.compile(
    r"\\[A-Za-z]+\*?|\\.|[0-9.,+\-*/^_=<>()\[\]|!':~$%€£\s−×÷·√π∞≤≥≠]"
    r"|(?<![A-Za-z])[A-Za-z](?![A-Za-z])(?!\s+[A-Za-z]{2,})"
)
_HAS_VALUE = re.compile(r"[0-9]|\\[A-Za-z]|(?<![A-Za-z])[A-Za-z](?![A-Za-z])|[π∞√]")
# "5 or 6", "$5$ and $6$", "3 apples and 2 oranges": the next part of a multi-part answer or a hedge (unit words
# may follow each value; a verb after the next value makes it a new clause: "6, and 5 is wrong")
_UNIT_WORDS = r"(?:\s+(?!(?:is|are|was|were|would|will|can|fails?|works?|gives?|does|do)\b)[A-Za-z]{2,}){0,3}"
# a part label after a value: "(3, 3) for part (a) and (1, 1) for part (b)"
_LABEL = r"(?:\s*\((?:[a-h]|i{1,3}|iv|vi{0,3}|\d{1,2})\))?"
_JOIN_NEXT = re.compile(_UNIT_WORDS + _LABEL + r"\s*,?\s*(?:or|and)\s+", re.IGNORECASE)
_SPAN_DONE = re.compile(_UNIT_WORDS + _LABEL + r"\s*(?:$|[.,;:!)])", re.IGNORECASE)
# "not 5, it is 6": the value after the correction
_NOT_BUT = re.compile(r"not\b[^.;]*?(?:\bit is|\bit's|\bbut|\brather)\s+", re.IGNORECASE)
_STATEMENT_VERB = re.compile(r"\b(?:is|are|equals|was|be|would be|should be|will be)\s*:?\s+", re.IGNORECASE)
# a closing clause of free-form text: "There are 5 red balls, so the total is 12." states its value after "so"
_CLAUSE = re.compile(r",\s*(?:and )?(?:so|thus|hence|therefore|which means)\b|;\s*|\b(?:so|thus|hence|therefore)\b,?",
                     re.IGNORECASE)
_HASHES = re.compile(r"####[ \t]*([^\n]*)")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
# what may stand between two boxes of ONE answer: punctuation, "and"/"or", spacing, math delimiters, "x =", and part
# labels ("\\boxed{(3, 3)} for part (a) and \\boxed{(1, 1)}", "in the second case", "respectively"). Nothing else: a
# sentence, a verb or a revision ("Wait, no", "Attempt 2") between two boxes makes them two answers, the later wins.
_JOINER = re.compile(
    r"(?:\s|[,;&$:]|\\\\|\\[,;:! ]|\\q?quad\b|\\(?:text|mbox|textrm|mathrm)\s*\{\s*(?:,|and|or|&)?\s*\}|\band\b|\bor\b"
    r"|\\[\[\]()]|\\(?:end|begin)\{(?:align|aligned|gather|gathered|cases|array)\*?\}"
    r"|\b(?:for|in|of|part|parts|case|cases|question|the|first|second|third|fourth|last|other|respectively)\b"
    r"|\((?:[a-h]|i{1,3}|iv|vi{0,3}|\d{1,2})\)|(?<![\w\\])(?:[a-h]|\d)\)"
    r"|[A-Za-z](?:_\{?\w+\}?)?\s*=)*",
    re.IGNORECASE,
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
# latex that is not prose: \\text{...} dressing, commands, environment names ("\\begin{pmatrix}", an array's "{cc}")
_LATEX_TEXT = re.compile(
    r"\\begin\s*\{array\}\s*\{[^{}]*\}|\\(?:begin|end)\s*\{[A-Za-z]+\*?\}"
    r"|\\(?:text|mbox|textrm|mathrm|textbf|operatorname)\s*\{[^{}]*\}|\\[A-Za-z]+")
_BEGIN = re.compile(r"\\begin\s*\{([A-Za-z]+\*?)\}")
# a word right after a value ("3 thousand", "$2$ million", "\\boxed{2}$ million"): see _with_number_words
_NEXT_WORD = re.compile(r"[ \t]*(?:\$|\\\))?[ \t]*([A-Za-z]+)\b")
_CLAUSE_END = re.compile(r"[ \t]*(?:$|[.,;:!?)\n])")
# "and" and the words after it: "5 and a half", "3 hundred and twenty" (see _with_number_words)
_AND_MORE = re.compile(r"[ \t]+and[ \t]+([A-Za-z]+)(?:[ \t]+([A-Za-z]+))?\b", re.IGNORECASE)


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
    """The text after an anchor that may hold its answer: a display (``$$...$$``, ``\\[...\\]``) whole, else up to
    the sentence / line end ("I hope it is correct" dropped). ``None`` when a ``\\boxed{}`` opens it (the boxed
    candidate carries it) or a display is unclosed."""
    rest = text[start : start + max_chars + 64]
    if rest.startswith("$$") or rest.startswith("\\["):
        close = rest.find("$$" if rest[0] == "$" else "\\]", 2)
        return rest[: close + 2] if close != -1 else None
    if rest.startswith("\\boxed") or rest.startswith("\\fbox"):
        return None
    lead = _leading_environment_end(rest)  # a matrix may be written over several lines: keep it whole
    newline = rest.find("\n", lead)
    line = rest[: newline if newline != -1 else len(rest)]
    tail = re.split(r"\.\s+I hope|\.\s*$|\.\s+(?=[A-Z])|\s+I hope it is correct", line[lead:], maxsplit=1)[0]
    return (line[:lead] + tail).strip() or None


def _leading_environment_end(rest: str) -> int:
    """End of a ``$...$`` / ``\\(...\\)`` / ``\\begin{env}...\\end{env}`` that opens ``rest`` and holds an environment
    (a matrix, cases, an aligned system), so its line breaks do not cut it; 0 when there is none."""
    for opener, closer in (("$", "$"), ("\\(", "\\)")):
        if rest.startswith(opener) and not rest.startswith("$$"):
            close = _closing(rest, len(opener), closer)
            if close != -1 and _BEGIN.search(rest, 0, close):
                return close + len(closer)
            return 0
    return _environment_end(rest, 0) if _BEGIN.match(rest) else 0


def _environment_end(text: str, start: int) -> int:
    """Index after the ``\\end{env}`` matching the ``\\begin{env}`` at ``start`` (nested ones of the same name
    counted); 0 when it is not closed. Linear: one pass over ``text``."""
    m = _BEGIN.match(text, start)
    if m is None:
        return 0
    name = re.escape(m.group(1))
    depth, pos = 1, m.end()
    for tag in re.finditer(r"\\(begin|end)\s*\{" + name + r"\}", text[pos:]):
        depth += 1 if tag.group(1) == "begin" else -1
        if depth == 0:
            return pos + tag.end()
    return 0


def _closing(text: str, start: int, delim: str) -> int:
    """Index of the unescaped ``delim`` closing a math group opened before ``start`` (``-1``: unclosed)."""
    i = start
    while i < len(text):
        if text.startswith(delim, i):
            return i
        i += 2 if text[i] == "\\" else 1
    return -1


def _first_value(span: str) -> tuple[str | None, str]:
    """``(value, rest)``: the value that opens ``span`` and the text after it.

    A value is a ``$...$`` / ``\\(...\\)`` / ``$$...$$`` / ``\\[...\\]`` group, or the run of math tokens (digits,
    operators, latex commands with their brace groups, single-letter variables, ``$`` / ``%`` dressing) up to the
    first word: "20 cookies for all 3 trays" -> ``20``, "6, not 5" -> ``6``, "6 (not 5)" -> ``6`` (an unclosed
    bracket is cut off). ``None`` when the span does not open with a value ("correct", "in dollars")."""
    span = span.lstrip()
    for opener, closer in (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$")):
        if span.startswith(opener):
            close = _closing(span, len(opener), closer)
            inner = span[len(opener) : close] if close != -1 else ""
            # "$5 and $6" is currency, not a group: a group holds no bare word
            if close != -1 and inner.strip() and not _WORD.search(_LATEX_TEXT.sub(" ", inner)):
                return inner.strip(), span[close + len(closer) :]
            break
    i, stack = 0, []
    while i < len(span):
        if span[i] == "{":
            _, why, end = _balanced(span, i, len(span), 64)
            if why != "ok":
                break
            i = end
            continue
        if span.startswith("\\begin", i):  # a matrix / cases / aligned block: one value, its & and \\\\ included
            end = _environment_end(span, i)
            if end:
                i = end
                continue
        m = _VALUE_TOKEN.match(span, i)
        if m is None:
            break
        ch = span[i]
        if ch in "([":
            stack.append(i)
        elif ch in ")]":
            if not stack:  # a closer the value never opened ("... is 6)"): the value ended before it
                break
            stack.pop()
        i = m.end()
    end = stack[0] if stack else i  # "6 (not 5": the clause in brackets is not part of the value
    value = span[:end].rstrip(" \t,;:=$")
    value = value.rstrip(".").strip()
    if not value or not _HAS_VALUE.search(value):
        return None, span
    return value, span[len(value) :] if span.startswith(value) else span[end:]


def _with_number_words(value: str, rest: str, scale_only: bool = False) -> tuple[str, str]:
    """``(value, rest)`` with the words after ``value`` that belong to it moved over: "3 thousand", "2 hundred
    thousand", "3 eighths", "5 and a half", "12 less than", "4 choose", "2 tau", "5 negative" (see
    ``dressed.number_word``). ``scale_only``: only scale words (after a box, whose content is explicit).

    Why: the value scan stops at the first word, and the number alone is another answer: "The final answer is 3
    thousand." scored 1 against the gold 3 and 0 against 3000; "The answer is 12 less than the total." scored 1
    against 12."""
    for _ in range(4):
        m = _NEXT_WORD.match(rest)
        if m is None:
            break
        word = m.group(1)
        last = _CLAUSE_END.match(rest, m.end()) is not None
        if not (word.lower().rstrip("s") in SCALE_WORDS if scale_only else number_word(word, last)):
            break
        value, rest = f"{value} {word}", rest[m.end() :]
    more = None if scale_only else _AND_MORE.match(rest)
    if more is not None:  # "5 and a half"; "3 hundred and twenty" (kept whole, so it is not read as 300)
        first, second = more.group(1).lower(), (more.group(2) or "").lower()
        if first in ("a", "an", *NUMBER_WORDS) and second in FRACTION_WORDS:
            value, rest = f"{value} and {more.group(1)} {more.group(2)}", rest[more.end() :]
        elif first in NUMBER_WORDS and value.split()[-1].lower().rstrip("s") in SCALE_WORDS:
            value, rest = f"{value} and {more.group(1)}", rest[more.end(1) :]
    return value, rest


def _span_value(span: str, _depth: int = 0) -> str | None:
    """The answer an anchor's span states, or ``None`` when it states no value.

    The value is cut out and the rest of the clause dropped, never handed to math-verify as prose (which would take
    its LAST number: "20 cookies for all 3 trays" is 3 there). Two values joined by "or" / "and" ("either 5 or 6",
    "between 5 and 6", "$5$ and $6$") are kept together as a set: a hedge never equals a single gold, a multi-part
    answer equals a multi-part gold. A sentence ("The volume of the prism is 120") gives the value its verb states;
    a span with no value ("correct", "in dollars", "see above") is not an answer, so the anchor before it counts."""
    if _depth > 8:  # "the answer is is is ...": bounded, whatever the text
        return None
    span = _MARKDOWN.sub("", span).strip()
    correction = _NOT_BUT.match(span)
    if correction is not None:
        return _span_value(span[correction.end() :], _depth + 1)
    if not span or _NOT_A_VALUE.match(span.lstrip("$ ")):
        return None
    lead = _LEAD.match(span)
    body = span[lead.end() :] if lead else span
    first, rest = _first_value(body)
    if first is None:
        verb = _STATEMENT_VERB.search(body)
        if verb is not None:
            return _span_value(body[verb.end() :], _depth + 1)
        if _WORD_ANSWER.fullmatch(span.strip(" .!")):
            return span.strip(" .!")
        # a sentence with a value but no verb to state it ("She has 12 apples left"): its first value
        digit = re.search(r"\$|\\\(|-?\d", body)
        if digit is None:
            return None
        first, rest = _first_value(body[digit.start() :])
        if first is None:
            return None
    first, rest = _with_number_words(first, rest)
    parts = [first]
    while len(parts) < 8:
        join = _JOIN_NEXT.match(rest)
        if join is None:
            break
        nxt, after = _first_value(rest[join.end() :])
        if nxt is not None:
            nxt, after = _with_number_words(nxt, after)
        if nxt is None or not _SPAN_DONE.match(after):
            break
        parts.append(nxt)
        rest = after
    return ", ".join(parts)


def _statement_value(text: str) -> str | None:
    """The value the last sentence of free-form text states (see ``_STATEMENT``), or ``None``."""
    body = text.rstrip()
    paragraphs = [p for p in body.split("\n") if p.strip()]
    if not paragraphs:
        return None
    last = paragraphs[-1][-2_000:]
    ends = [m.end() for m in _SENTENCE_END.finditer(last) if m.end() < len(last.rstrip())]
    sentence = last[ends[-1]:] if ends else last
    clauses = list(_CLAUSE.finditer(sentence))
    if clauses:  # "There are 5 red balls, so the total is 12.": the closing clause states the answer
        sentence = sentence[clauses[-1].end():]
    hedge = re.search(r"\b(?:is|are|equals|was|be)\s+(?:either|between)\s", sentence)
    if hedge is not None:  # "the total is either 5 or 6": a hedge is the set of its values, never one of them
        return _span_value(sentence[hedge.end() - len(hedge.group().split()[-1]) - 1 :])
    m = _STATEMENT.search(sentence)
    if m is None:
        return None
    value = m.group("value").strip()
    if value.startswith("\\("):
        value = value[2:-2]
    value = clean_answer(_with_number_words(value, sentence[m.end() :])[0])
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
                 boxes: list[tuple[int, int]]) -> tuple[str | None, str, int, int]:
    """The box at ``pos`` plus the earlier boxes joined to it only by ``_JOINER`` text (one multi-part answer).

    ``boxes``: every ``(start, content_open_brace)`` in the text, ascending. Returns ``(answer, reason, n_boxes,
    end)``, ``end`` the index after the box at ``pos``.
    """
    answer, why, end = _balanced(text, content_at, max_chars, max_depth)
    if answer is None:
        return None, why, 0, end
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
    return ", ".join(p.strip() for p in parts), "ok", len(parts), end


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
            answer, why, n, end = _boxed_group(text, pos, content, max_answer_chars, max_depth, boxes)
            kind = "boxed_group" if n > 1 else kind
            if n == 1:  # "\\boxed{2} million" is 2000000
                answer = _with_number_words(answer, text[end : end + 64], scale_only=True)[0]
        elif kind in ("final_answer", "answer_is"):
            span, why = _sentence_span(text, content, max_answer_chars), "no_answer"
            answer = _span_value(span) if span is not None else None
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
            return Extracted(answer, kind, text_mode=kind == "hashes" and _is_prose(answer))
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
