"""Leakage filter for SMART guidance: a hint may point at an error, never hand over the answer.

SCoRe measures *intrinsic* self-correction. A guide that writes "the answer is 18", boxes a result, spells the
answer out ("eighteen"), or just writes the whole solution turns attempt 2 into copying (notes/score-methods.md §2:
nothing in hrl-reasoning stops this). The rules, each with a reason name used in the rejection counters:

* ``empty``: nothing usable.
* ``non_english``: a sentence that is not English (``verl_score.teacher.language``): the verdict rules are English,
  and "Votre réponse est fausse." says what "your answer is wrong" says.
* ``final_answer``: ``\\boxed{}``/``\\fbox{}``, ``####``, "final answer", "the answer is/should be/equals <value>"
  (checked before the verdict rules), and "the answer is/should be ..." without a value unless it sits in a re-check
  or a question ("check that the answer is a whole number").
* ``verdict``: the hint tells or implies whether attempt 1, or a part of it, is right or wrong -- verdicts in any
  frame, error claims, praise, near-misses, hedges, unconditional "fix X", statements about the attempt. A guide that
  says "correct" turns attempt 2 into verifier-assisted correction (keep / change), which SCoRe's intrinsic
  self-correction must not receive. What a hint may say instead, and the rules: ``verl_score.teacher.verdicts``.
* ``full_solution_code``: a fenced code block (a hint is prose, not a program).
* ``full_solution_length``: longer than ``max_chars`` (a brief instruction is a few sentences).
* ``full_solution_equations``: ``max_equations`` or more equations (worked arithmetic is a solution).
* ``full_solution_steps``: an enumerated walk-through of ``max_listed_steps`` or more items.
* ``reference_answer``: contains a number/expression equal to the reference answer -- digits ("18", "18.0",
  "1,800"), fractions/LaTeX (``\\frac{1}{2}`` vs 0.5, "25%" vs 0.25), number words ("eighteen", "one half") or a
  LaTeX span math-verify finds equivalent. This rule needs the reference; ONLY the filter gets it (the guide model
  never does), via ``check(text, reference=...)``.

The rules are deliberately conservative: a hint that merely mentions the answer's value in passing ("re-check
step 18") is rejected too, and the episode falls back to the static instruction, which is always safe.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping

from verl_score.rewards.extract import extract_gold_answer
from verl_score.teacher.language import is_non_english
from verl_score.teacher.numwords import find_number_words, parse_number_words
from verl_score.teacher.verdicts import find_verdict, recheck_licensed

__all__ = ["LeakVerdict", "LeakageConfig", "LeakageFilter", "numeric_value"]

REASONS = (
    "empty",
    "non_english",
    "verdict",
    "final_answer",
    "full_solution_code",
    "full_solution_length",
    "full_solution_equations",
    "full_solution_steps",
    "reference_answer",
)


@dataclass(frozen=True)
class LeakVerdict:
    """``ok`` or the first rule that fired (``reason``) and the offending text (``detail``)."""

    ok: bool
    reason: str = "ok"
    detail: str = ""


@dataclass(frozen=True)
class LeakageConfig:
    """Thresholds of the "full solution" rules; see the module docstring for why each exists."""

    max_chars: int = 600
    max_equations: int = 3
    max_listed_steps: int = 4
    use_math_verify: bool = True  # for non-numeric references (expressions, intervals): LaTeX spans via math-verify
    max_math_spans: int = 8

    @classmethod
    def from_dict(cls, cfg: Mapping[str, Any] | "LeakageConfig" | None) -> "LeakageConfig":
        if cfg is None:
            return cls()
        if isinstance(cfg, LeakageConfig):
            return cfg
        return cls(**dict(cfg))


_ANSWER_IS = re.compile(
    r"\b(?:answer|result)\s+(?:is|was|should\s+be|would\s+be|will\s+be|must\s+be|equals|comes\s+(?:out\s+)?to)\b"
    r"|\banswer\s*[:=]",
    re.IGNORECASE,
)
_FINAL_PATTERNS = [
    re.compile(r"\\(?:boxed|fbox)\b"),
    re.compile(r"####"),
    re.compile(r"\bfinal\s+answer\b", re.IGNORECASE),
    _ANSWER_IS,
]
#: what follows "the answer is" when a value is being stated: a number, money, LaTeX, a bracket, a variable or
#: expression, a number word
_VALUE_NEXT = re.compile(
    r"\s*(?:[-−+]?\s*[$£€]?\s*\d|[$£€\\(\[{]|(?![ai]\b)[a-z]\b|(?:zero|one|two|three|four|five|six|seven|eight|"
    r"nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|half|"
    r"negative|minus)\b)",
    re.IGNORECASE,
)
_FENCE = re.compile(r"```")
_EQUATION = re.compile(r"(?<![=<>!])=(?!=)")
_LISTED = re.compile(r"^\s*(?:step\s*\d+\s*[:.)-]|\d+\s*[.)]\s)", re.IGNORECASE | re.MULTILINE)

_NUM = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*%)?|(?<![\w.])-?\.\d+")
_SLASH_FRAC = re.compile(r"(?<![\w.])(-?\d+)\s*/\s*(\d+)(?![\w.])")
_LATEX_FRAC = re.compile(r"\\[dt]?frac\s*(?:\{\s*(-?\d+)\s*\}|(\d))\s*(?:\{\s*(-?\d+)\s*\}|(\d))")
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


def numeric_value(text: str) -> Fraction | None:
    """Exact value of a plain number ("1,800", "-0.5", "25%"), a simple fraction ("3/4", ``\\frac{3}{4}``) or
    number words ("eighteen"); None for anything else (expressions, intervals, text)."""
    t = text.strip().strip("$").strip()
    t = re.sub(r"^\\text\{(.*)\}$", r"\1", t).strip()
    t = t.replace("\\!", "").replace("{,}", ",").replace("\\%", "%")
    m = re.fullmatch(r"(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+)\s*(%?)", t)
    if m:
        v = Fraction(m.group(1).replace(",", ""))
        return v / 100 if m.group(2) else v
    m = re.fullmatch(r"(-?\d+)\s*/\s*(\d+)", t)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    m = _LATEX_FRAC.fullmatch(t.lstrip("-"))
    if m:
        num, den = int(m.group(1) or m.group(2)), int(m.group(3) or m.group(4))
        if den:
            return Fraction(-num if t.startswith("-") else num, den)
    return parse_number_words(t)


def _numeric_candidates(text: str) -> list[tuple[Fraction, str]]:
    """Every exact number ``text`` states: digits, percentages (as both 25 and 1/4), fractions, words."""
    out: list[tuple[Fraction, str]] = []
    for m in _NUM.finditer(text):
        s = m.group(0)
        pct = s.rstrip().endswith("%")
        v = Fraction(s.rstrip("% ").replace(",", ""))
        out.append((v, s))
        if pct:
            out.append((v / 100, s))
    for m in _SLASH_FRAC.finditer(text):
        if int(m.group(2)):
            out.append((Fraction(int(m.group(1)), int(m.group(2))), m.group(0)))
    for m in _LATEX_FRAC.finditer(text):
        num, den = int(m.group(1) or m.group(2)), int(m.group(3) or m.group(4))
        if den:
            out.append((Fraction(num, den), m.group(0)))
    out.extend(find_number_words(text))
    return out


def _squash(s: str) -> str:
    return re.sub(r"\s+|\\[,;:! ]|\\left|\\right", "", s)


class LeakageFilter:
    """``check(text)`` applies the reference-free rules; ``check(text, reference=gold)`` adds the answer rule.

    ``verifier(gold, candidate) -> bool`` decides equivalence of non-numeric answers; by default a one-worker
    math-verify pool (``verl_score.rewards.math_pool``) started on first need, so filtering numeric answers (the
    common case: GSM8K, most of MATH) never spawns a process.
    """

    def __init__(
        self,
        config: LeakageConfig | Mapping[str, Any] | None = None,
        verifier: Callable[[str, str], bool] | None = None,
    ):
        self.config = LeakageConfig.from_dict(config)
        self._verifier = verifier
        self._pool: Any = None
        self._lock = threading.Lock()

    # -------------------------------------------------------------------------------------------- rules
    def check(self, text: str, reference: str | None = None) -> LeakVerdict:
        verdict = self.check_format(text)
        if verdict.ok and reference is not None:
            verdict = self.check_reference(text, reference)
        return verdict

    def check_format(self, text: str) -> LeakVerdict:
        """The rules that need no reference: empty, a stated final answer, a full solution."""
        cfg = self.config
        if not isinstance(text, str) or not text.strip():
            return LeakVerdict(False, "empty")
        foreign = is_non_english(text)  # first: the verdict rules are English; other languages are not screened
        if foreign is not None:
            return LeakVerdict(False, "non_english", foreign)
        for pat in _FINAL_PATTERNS[:-1]:  # explicit answer markers first: "\\boxed{7} is right" states the answer
            m = pat.search(text)
            if m:
                return LeakVerdict(False, "final_answer", _around(text, m.start()))
        for m in _ANSWER_IS.finditer(text):  # "the answer is 18": a stated value, whatever else the text says
            if _states_value(text, m):
                return LeakVerdict(False, "final_answer", _around(text, m.start()))
        hit = find_verdict(text)  # before "answer is": "your answer is correct" is a verdict, not an answer
        if hit is not None:
            return LeakVerdict(False, "verdict", str(hit))
        for pat in _FINAL_PATTERNS[-1:]:
            for m in pat.finditer(text):
                if pat is _ANSWER_IS and _answer_property_check(text, m):
                    continue  # "check whether your answer is reasonable": a property to check, no value given
                return LeakVerdict(False, "final_answer", _around(text, m.start()))
        if _FENCE.search(text):
            return LeakVerdict(False, "full_solution_code")
        if len(text) > cfg.max_chars:
            return LeakVerdict(False, "full_solution_length", f"{len(text)} chars > {cfg.max_chars}")
        n_eq = len(_EQUATION.findall(text))
        if n_eq >= cfg.max_equations:
            return LeakVerdict(False, "full_solution_equations", f"{n_eq} equations")
        n_steps = len(_LISTED.findall(text))
        if n_steps >= cfg.max_listed_steps:
            return LeakVerdict(False, "full_solution_steps", f"{n_steps} listed steps")
        return LeakVerdict(True)

    def check_reference(self, text: str, reference: str) -> LeakVerdict:
        """Reject when ``text`` contains something equal to the reference answer (numeric, LaTeX, words)."""
        gold = extract_gold_answer(str(reference))
        if not gold:
            return LeakVerdict(True)
        gold_value = numeric_value(gold)
        if gold_value is not None:
            for value, span in _numeric_candidates(text):
                if value == gold_value:
                    return LeakVerdict(False, "reference_answer", span)
            return LeakVerdict(True)
        # Non-numeric reference (an expression, interval, set, word): literal match, then LaTeX spans by
        # math-verify equivalence.
        squashed_gold = _squash(gold)
        if len(squashed_gold) >= 2 and squashed_gold in _squash(text):
            return LeakVerdict(False, "reference_answer", gold)
        if self.config.use_math_verify:
            spans = [next(g for g in m.groups() if g is not None) for m in _MATH_SPAN.finditer(text)]
            for span in spans[: self.config.max_math_spans]:
                if span.strip() and self._equivalent(gold, span.strip()):
                    return LeakVerdict(False, "reference_answer", span.strip())
        return LeakVerdict(True)

    # -------------------------------------------------------------------------------------------- plumbing
    def _equivalent(self, gold: str, candidate: str) -> bool:
        if self._verifier is not None:
            return bool(self._verifier(gold, candidate))
        with self._lock:
            if self._pool is None:
                from verl_score.rewards.math_pool import MathVerifyPool

                self._pool = MathVerifyPool(workers=1, timeout_s=5.0)
        verdict = self._pool.check(gold, candidate)
        return bool(verdict.get("equal")) and verdict.get("reason") == "ok"

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None


def _states_value(text: str, m: re.Match[str]) -> bool:
    """"the answer is 18", "answer: x+1": a value (number, money, LaTeX, variable, number word) follows."""
    return m.group(0).rstrip().endswith((":", "=")) or bool(_VALUE_NEXT.match(text, m.end()))


def _answer_property_check(text: str, m: re.Match[str]) -> bool:
    """"Re-check that the answer is a whole number" / "Is your answer reasonable?": the "answer is" phrase sits in a
    re-check complement or a plain question (the verdict screen's licenses) and no value follows it."""
    return not _states_value(text, m) and recheck_licensed(text, m.start())


def _around(text: str, pos: int, width: int = 40) -> str:
    return text[max(0, pos - 10) : pos + width].replace("\n", " ")
