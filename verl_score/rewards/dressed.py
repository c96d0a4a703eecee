"""A number written the way GSM8K answers are ("$1,000", "28\\%", "12 apples", "3 thousand", "3 eighths"), read
exactly and compared with a plain-number gold in process.

Why a module of its own: what follows a number decides what the answer IS, and both ways of getting that wrong are
the worst reward bug. A unit ("12 cm", "5 dollars") leaves the number as it is; a scale word ("3 thousand") or a
fraction word ("3 eighths") makes it another value; a comparative, "choose", a math word or a symbol's name ("8
fewer", "12 less than the total", "4 choose two", "2 tau") makes it no plain value at all. The review of the math
reward found every one of those scored 1 against the bare number (a unit was assumed), and math-verify's prose
reading cannot help: it takes the first number of "3 eighths". ``extract.py`` keeps such a word with the value an
anchor states (``number_word``), and :func:`compare_plain` settles it here.

A percent is read as the number itself (a GSM8K "what percent" gold ``25`` is answered by ``25%``) and, only against a
non-integer gold, also as a fraction (``25%`` is the gold ``0.25``): ``2500%`` is never the gold ``25``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_PLAIN_NUMBER = re.compile(r"^-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^-?\.\d+$")
# A number dressed the way GSM8K answers are written: "$1,000", "\\$18.00", "28\\%", "28 percent", "12 apples",
# "x = 11", "\\text{ dollars}", "5 cm^2", thousands separators in proper 3-digit groups ("1,234", "1{,}234", "1\\,234",
# "1 234"), a trailing period. The words after the number are read by ``_words_reading``.
_DRESSED_NUMBER = re.compile(
    r"^(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?[€£]?\s*"
    r"(?P<num>-?(?:\d{1,3}(?:(?:,|\{,\}|\\,|\\ |~| )\d{3})+|\d+)(?:\.\d+)?|-?\.\d+)(?![\d])\s*"
    r"(?P<pct>\\?%|\s?percent\b)?\s*"
    r"(?:(?P<unit>\\(?:text|mbox|mathrm|textrm)\s*\{[^{}\d]*\}|[A-Za-z][A-Za-z .'/-]{0,40}?)"
    r"\s*(?:\^\s*\{?[23]\}?|[²³])?)?\s*\.?$"
)
_TEXT_WRAPPED = re.compile(r"^\\(?:text|mbox|textrm|mathrm)\s*\{([^{}]*)\}$")
_DOLLARS = re.compile(r"\\text\{\\\$\}|\\\$|\$")

#: words that multiply the number before them ("3 thousand" is 3000, never 3); ``extract.py`` keeps them with a value
SCALE_WORDS = {"hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_COUNT_WORDS = {"dozen": 12}  # a scale inside a boxed / #### answer ("2 dozen"); not taken from after an anchor
#: fraction words: "3 eighths" is 3/8. Why "quarters" too: the review counts "3 quarters" as 3/4, never 3 (a count of
#: coins, "12 quarters", is then not 12 either: the cost of that reading)
_ORDINALS = {"half": 2, "third": 3, "quarter": 4, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
             "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12, "hundredth": 100, "thousandth": 1000,
             "millionth": 10**6}
FRACTION_WORDS = {**_ORDINALS, **{w + "s": d for w, d in _ORDINALS.items()}, "halves": 2}
# other ordinal fractions ("twentieths", "sixteenths"): no plain value we read, never a unit. Not "...ths" in general:
# months, lengths and widths are units
_OTHER_ORDINAL = re.compile(r"^(?:\w+teen|\w+tie|\w+hundred|\w+thousand)ths?$")
#: a numerator before a fraction word: "5 and a half", "2 and three quarters"
_NUMERATORS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
               "eight": 8, "nine": 9}
#: number words ("3 hundred and twenty": a number in words, which we do not read)
NUMBER_WORDS = set(_NUMERATORS) - {"a", "an"} | {"ten", "eleven", "twelve", "twenty", "thirty", "forty", "fifty",
                                                   "sixty", "seventy", "eighty", "ninety"}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu",
          "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi", "omega"}
#: words after a number that make it another value or none ("8 fewer", "12 less than", "4 choose two", "2 tau",
#: "5 squared"): against a plain-number gold such an answer is wrong, whatever math-verify's prose reading finds
CHANGES_VALUE = {"less", "more", "fewer", "greater", "smaller", "than", "below", "above", "over", "choose", "plus",
                 "minus", "squared", "cubed", "e", "i", "inf", "infinity", "sqrt", "sin", "cos", "tan", "log", "ln",
                 "exp", "mod", "factorial"} | _GREEK
#: a sign word, only as the number's last word: "5 negative" is not 5; "5 negative numbers" counts them
_SIGN_WORDS = {"negative", "positive"}
# words that make "a number of units" doubtful but not certainly another value ("5 times" counts times, "2 roots"
# counts roots): left to math-verify as before
_DEFER = {"and", "or", "times", "root", "roots", "percent"}
#: two-letter unit abbreviations; any other unit must be a word of three or more letters (never a variable)
_SHORT_UNITS = {"cm", "mm", "km", "kg", "mg", "ml", "lb", "oz", "ft", "yd", "hr", "mi", "mL", "kW", "Hz", "pm", "am"}


def number_word(word: str, last: bool) -> bool:
    """Whether ``word`` right after a number is part of the value an anchor states (``extract.py``): a scale word, a
    fraction word, or a word that makes it another value (a sign word only as the ``last`` word of its clause)."""
    w = word.lower()
    return (w.rstrip("s") in SCALE_WORDS or w == "percent" or w in FRACTION_WORDS or _OTHER_ORDINAL.match(w) is not None
            or (w in CHANGES_VALUE and w not in ("e", "i")) or (last and w in _SIGN_WORDS))


@dataclass(frozen=True)
class Reading:
    """What a dressed number is: ``value`` (``None``: words make it no plain value at all), written as a percent,
    written with a decimal point (math-verify compares such numbers rounded: only an exact reading is certain)."""

    value: Fraction | None
    percent: bool = False
    decimal: bool = False


def plain_number(text: str) -> Fraction | None:
    """Exact value of a plain decimal ("1,234", "-0.5"); anything with latex, units or symbols is ``None``."""
    if len(text) > 64 or not _PLAIN_NUMBER.match(text):
        return None
    return Fraction(text.replace(",", ""))


def read_dressed(text: str) -> Reading | None:
    """The reading of a number with ``$``, ``%``, words, thousands separators or ``x =`` around it, or ``None`` when
    the text is not such a number or its words are doubtful (math-verify decides those)."""
    text = text.strip()
    if len(text) > 96:
        return None
    wrapped = _TEXT_WRAPPED.match(text)  # "\\text{28 dollars}"
    m = _DRESSED_NUMBER.match(_DOLLARS.sub("", wrapped.group(1) if wrapped else text))  # currency, delimiters alike
    if m is None:
        return None
    factor = _words_reading(m.group("unit"))
    if factor is None:
        return None
    num = m.group("num")
    percent, decimal = m.group("pct") is not None, "." in num
    if factor is _NO_VALUE:
        return Reading(None, percent, decimal)
    value = Fraction(re.sub(r"\{,\}|\\,|\\ |[,~ ]", "", num))
    return Reading(value * factor[0] + factor[1], percent, decimal)


def compare_plain(gold: Fraction, answer: str) -> bool | None:
    """``True`` / ``False`` when ``answer`` is a dressed number whose verdict against the plain-number ``gold`` is
    certain; ``None`` to ask math-verify.

    Certain: equal (a percent also as a fraction, but only for a non-integer gold); a number whose words make it no
    plain value ("8 fewer"); clearly different values; an integer gold against an exact reading (no decimal point:
    math-verify compares such numbers exactly, never within a tolerance). Why decide here rather than defer: for a
    ``####`` line math-verify reads prose and takes its first number ("2.5 thousand" would be 2.5)."""
    reading = read_dressed(answer)
    if reading is None:
        return None
    if reading.value is None:
        return False
    values = [reading.value]
    if reading.percent and gold.denominator != 1:  # "25%" is 0.25; against an integer gold it is 25 (GSM8K percent)
        values.append(reading.value / 100)
    if gold in values:
        return True
    if all(abs(v - gold) > Fraction(1, 10**4) * max(1, abs(gold), abs(v)) for v in values):
        return False  # clearly different (math-verify rounds decimals to 6 places): "2.5 thousand" is not 2.5
    if gold.denominator == 1 and not reading.decimal:
        return False
    return None


_NO_VALUE = (None, None)


def _words_reading(unit: str | None) -> tuple[Fraction, Fraction] | tuple[None, None] | None:
    """``(multiplier, addend)`` the words after a number apply to it: ``(1, 0)`` for a real unit ("apples",
    ``\\text{ dollars}``, "cm"), ``(1000, 0)`` for "thousand", ``(1/8, 0)`` for "eighths", ``(1, 1/2)`` for "and a
    half"; ``_NO_VALUE`` when they make it no plain value ("fewer", "choose two", "tau", "hundred and twenty");
    ``None`` when they are doubtful (a single letter or a variable, "times", "or so")."""
    one, zero = Fraction(1), Fraction(0)
    if unit is None:
        return one, zero
    inner = re.sub(r"^\\[A-Za-z]+\s*\{|\}$", "", unit).strip()
    words = [w.strip(".'").lower() for w in inner.replace("/", " ").replace("-", " ").split()]
    words = [w for w in words if w]
    if not words:
        return one, zero
    scale = one
    while words and (words[0] in SCALE_WORDS or words[0].rstrip("s") in SCALE_WORDS or words[0] in _COUNT_WORDS):
        scale *= SCALE_WORDS.get(words[0].rstrip("s"), _COUNT_WORDS.get(words[0], 1))
        words = words[1:]
    if scale != 1 and words[:1] == ["and"]:  # "3 hundred and twenty": a number in words we do not read
        return _NO_VALUE
    if len(words) == 1 and words[0] in FRACTION_WORDS and scale == 1:  # "3 eighths"
        return Fraction(1, FRACTION_WORDS[words[0]]), zero
    if (len(words) == 3 and words[0] == "and" and words[1] in _NUMERATORS and words[2] in FRACTION_WORDS
            and scale == 1):  # "5 and a half", "2 and three quarters"
        return one, Fraction(_NUMERATORS[words[1]], FRACTION_WORDS[words[2]])
    if (any(w in CHANGES_VALUE or w in FRACTION_WORDS or w in NUMBER_WORDS or w in SCALE_WORDS
            or _OTHER_ORDINAL.match(w) for w in words) or words[-1:] in (["negative"], ["positive"])):
        return _NO_VALUE
    if not words:
        return scale, zero
    if any(w in _DEFER for w in words):
        return None
    if len(words[0]) < 3 and words[0] not in {u.lower() for u in _SHORT_UNITS}:
        return None  # a variable ("2 x") or an abbreviation we do not know
    return scale, zero
