"""English number words -> values, so the leakage filter catches "eighteen" when the answer is 18.

A guide that may not print "18" can still write "the total should be eighteen"; a filter that only looks at digits
misses it. This parser finds every maximal run of number words in a text ("one hundred and twenty-three",
"twenty thousand five hundred", "minus seven", "three quarters", "one and a half") and returns its value. Integers
up to the billions are handled (the brief asks for 0..999,999 at least); simple fractions ("a half", "two thirds")
as numbers ("a third of the cookies" answers "what fraction..."); a lone ordinal ("the third step") is a position
and is not reported.
"""

from __future__ import annotations

import re
from fractions import Fraction

__all__ = ["find_number_words", "parse_number_words"]

_UNITS = {
    "zero": 0, "oh": None, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}
_SCALES = {"thousand": 10**3, "million": 10**6, "billion": 10**9}
_ORDINAL_UNITS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
    "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19, "twentieth": 20, "thirtieth": 30,
    "fortieth": 40, "fiftieth": 50, "sixtieth": 60, "seventieth": 70, "eightieth": 80, "ninetieth": 90,
    "hundredth": 100, "thousandth": 1000, "millionth": 10**6,
}  # fmt: skip
# Denominator words of fractions ("two thirds", "a quarter"); "second" is not one ("one second" is time).
_DENOMS = {"half": 2, "halves": 2, "quarter": 4, "quarters": 4}
_DENOMS.update({k: v for k, v in _ORDINAL_UNITS.items() if k not in ("first", "second")})
_DENOMS.update({k + "s": v for k, v in _ORDINAL_UNITS.items() if k not in ("first", "second")})

_WORD = re.compile(r"[a-z]+")
_NUMBERISH = set(_UNITS) | set(_TENS) | set(_SCALES) | set(_ORDINAL_UNITS) | set(_DENOMS) | {
    "hundred", "and", "a", "an", "minus", "negative", "point",
}  # fmt: skip


def _tokens(text: str) -> list[tuple[str, int, int]]:
    """Lower-case words with spans; hyphens join words ("twenty-three" -> "twenty", "three")."""
    return [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text.lower())]


class _Parser:
    """Greedy left-to-right parse of one run of number words into an integer or a fraction."""

    def __init__(self, words: list[str]):
        self.words = words
        self.i = 0

    def peek(self) -> str | None:
        return self.words[self.i] if self.i < len(self.words) else None

    def integer_below_thousand(self) -> int | None:
        """``[unit|tens[-unit]] [hundred [and] [tens[-unit]|unit]]``; consumes words, None if nothing parsed."""
        start = self.i
        value: int | None = None
        w = self.peek()
        if w in _UNITS and _UNITS[w] is not None:
            value = _UNITS[w]
            self.i += 1
        elif w in _TENS:
            value = _TENS[w]
            self.i += 1
            if self.peek() in _UNITS and _UNITS.get(self.peek() or "") not in (None, 0) and _UNITS[self.peek()] < 10:  # type: ignore[index]
                value += _UNITS[self.peek()]  # type: ignore[index,operator]
                self.i += 1
        if self.peek() == "hundred":
            value = (value if value is not None else 1) * 100
            self.i += 1
            save = self.i
            if self.peek() == "and":
                self.i += 1
            rest = self._tens_units()
            if rest is None:
                self.i = save
            else:
                value += rest
        if value is None:
            self.i = start
        return value

    def _tens_units(self) -> int | None:
        w = self.peek()
        if w in _TENS:
            self.i += 1
            v = _TENS[w]
            u = self.peek()
            if u in _UNITS and _UNITS[u] not in (None, 0) and _UNITS[u] < 10:  # type: ignore[operator]
                v += _UNITS[u]  # type: ignore[operator]
                self.i += 1
            return v
        if w in _UNITS and _UNITS[w] is not None:
            self.i += 1
            return _UNITS[w]
        return None

    def integer(self) -> int | None:
        """Groups joined by scale words: "twenty thousand five hundred" -> 20500."""
        total = 0
        current = self.integer_below_thousand()
        if current is None:
            return None
        while True:
            w = self.peek()
            if w in _SCALES:
                total += current * _SCALES[w]
                self.i += 1
                save = self.i
                if self.peek() == "and":
                    self.i += 1
                nxt = self.integer_below_thousand()
                if nxt is None:
                    self.i = save
                    return total
                current = nxt
                continue
            return total + current


def _parse_run(words: list[str]) -> list[Fraction]:
    """All values in one run of number-ish words (a run may hold several numbers: "two and three")."""
    values: list[Fraction] = []
    p = _Parser(words)
    while p.i < len(words):
        sign = 1
        if p.peek() in ("minus", "negative"):
            sign = -1
            p.i += 1
        if p.peek() in ("a", "an") and p.i + 1 < len(words) and words[p.i + 1] in _DENOMS:
            values.append(Fraction(sign, _DENOMS[words[p.i + 1]]))
            p.i += 2
            continue
        n = p.integer()
        if n is None:
            p.i += 1  # an ordinal on its own ("the third step") names a position, not a quantity
            continue
        value = Fraction(n)
        w = p.peek()
        if w in _DENOMS:
            value = Fraction(n, _DENOMS[w])  # "two thirds", "one quarter"
            p.i += 1
            values.append(Fraction(n))  # the numerator alone is also a number the text states
        elif w == "point":  # "two point five"
            p.i += 1
            digits = ""
            while p.peek() in _UNITS and _UNITS[p.peek()] is not None and _UNITS[p.peek()] < 10:  # type: ignore[index,operator]
                digits += str(_UNITS[p.peek()])  # type: ignore[index]
                p.i += 1
            if digits:
                value = Fraction(f"{n}.{digits}")
        elif w == "and" and p.i + 2 < len(words) and words[p.i + 1] in ("a", "an") and words[p.i + 2] in _DENOMS:
            # "one and a half" -> 1.5 (and 1 itself); "two and three" stays two numbers
            values.append(Fraction(sign) * value)
            value = value + Fraction(1, _DENOMS[words[p.i + 2]])
            p.i += 3
        values.append(Fraction(sign) * value)
    return values


def find_number_words(text: str) -> list[tuple[Fraction, str]]:
    """Every number written in words in ``text``, as ``(value, source span text)``."""
    toks = _tokens(text)
    out: list[tuple[Fraction, str]] = []
    i = 0
    while i < len(toks):
        if toks[i][0] not in _NUMBERISH or toks[i][0] in ("and", "a", "an", "point"):
            i += 1
            continue
        j = i
        while j < len(toks) and toks[j][0] in _NUMBERISH:
            # a run continues only over adjacent words (separated by spaces/hyphens, not punctuation)
            if j > i and not re.fullmatch(r"[\s\-]+", text[toks[j - 1][2] : toks[j][1]]):
                break
            j += 1
        words = [t[0] for t in toks[i:j]]
        # an article directly before a fraction word belongs to the run ("a half")
        if i > 0 and toks[i - 1][0] in ("a", "an") and words and words[0] in _DENOMS:
            words = [toks[i - 1][0], *words]
        span = text[toks[i][1] : toks[j - 1][2]]
        for v in _parse_run(words):
            out.append((v, span))
        i = j
    return out


def parse_number_words(text: str) -> Fraction | None:
    """The value of ``text`` when it is exactly one number in words ("one hundred and five"), else None."""
    found = find_number_words(text)
    values = {v for v, _ in found}
    if len(found) >= 1 and _tokens(text) and all(t[0] in _NUMBERISH for t in _tokens(text)):
        # the whole text is number words: the largest composite reading is the number
        p = _Parser([t[0] for t in _tokens(text) if t[0] not in ("minus", "negative")])
        neg = _tokens(text)[0][0] in ("minus", "negative")
        n = p.integer()
        if n is not None and p.i == len(p.words):
            return Fraction(-n if neg else n)
        return max(values, key=abs) if len(values) == 1 else None
    return None
