"""Exact value of a simple latex number, so the math reward settles most MATH answers without math-verify.

Why: every check that reaches math-verify costs a worker round trip and sympy (5-300 ms quiet, several times that
with another job on the two cores), and checks queue for the two workers. Integers, decimals, fractions, surds and
multiples of pi -- most MATH and GSM8K answers -- are compared here exactly, in microseconds, so they never wait
behind a slow check and never reach the verify timeout.

A value is ``c * sqrt(r) * pi**k``: ``c`` a Fraction, ``r`` a square-free positive integer, ``k`` an integer. The
grammar is small on purpose (a product of at most one number, one ``\\sqrt{n}``, one ``\\pi``; a ``\\frac`` of two
such; a sign; ``\\$`` / ``^\\circ`` dressing, which math-verify also drops); anything else is ``None`` and goes to
math-verify. :func:`compare` answers only when math-verify would certainly agree (see its docstring).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

_MAX_LEN = 80
_MAX_RADICAND = 10**8
_MAX_DIGITS = 15  # sympy Floats carry 15 significant digits: longer decimals are math-verify's call
_DECIMAL = re.compile(r"\d+(?:\.\d+)?|\.\d+")
_FRAC = re.compile(r"\\[dt]?frac\s*")
_SQRT = re.compile(r"\\sqrt\s*(?:\{\s*(\d+)\s*\}|(\d))")
_PI = re.compile(r"\\pi(?![A-Za-z])")
# dressing math-verify drops as well: a leading \$ (MATH writes money so), a trailing degree sign, \left/\right-free
# spacing commands, a trailing period
_DOLLAR = re.compile(r"^\\\$\s*")
_DEGREES = re.compile(r"\s*\^\s*(?:\{\s*\\circ\s*\}|\\circ)\s*$")
_SPACING = re.compile(r"\\[,;!: ]|\\q?quad\b|~")
_ASSIGN = re.compile(r"^[A-Za-z]\s*=\s*")
_SPACED_DIGITS = re.compile(r"[\d.]\s*(?:\\[,;!: ]|\\q?quad\b|~|\s)\s*\d")


@dataclass(frozen=True)
class Value:
    coeff: Fraction
    radicand: int = 1
    pi_power: int = 0
    decimal: bool = False  # written with a decimal point: math-verify compares it rounded, not exactly

    def as_float(self) -> float:
        return float(self.coeff) * math.sqrt(self.radicand) * math.pi**self.pi_power

    def key(self) -> tuple:
        return (0,) if self.coeff == 0 else (self.coeff, self.radicand, self.pi_power)


def exact_value(text: str, allow_assignment: bool = False) -> Value | None:
    """The value of ``text`` or ``None`` when it is not a simple number (see the module docstring).
    ``allow_assignment``: ``x = 5`` is 5 (an answer; math-verify compares the right-hand side with a bare gold)."""
    text = text.strip()
    if not text or len(text) > _MAX_LEN:
        return None
    if allow_assignment:
        text = _ASSIGN.sub("", text)
    text = _DEGREES.sub("", _DOLLAR.sub("", text))
    if _SPACED_DIGITS.search(text):  # "1 2" is two numbers, never 12
        return None
    text = _SPACING.sub("", text).replace(" ", "").rstrip(".")
    if text.startswith("{") and text.endswith("}") and text.count("{") == 1:
        text = text[1:-1]
    parsed = _signed(text)
    return parsed


def _signed(text: str) -> Value | None:
    sign = 1
    while text[:1] in ("-", "+"):
        sign, text = (-sign if text[0] == "-" else sign), text[1:]
    value = _quotient(text)
    if value is None:
        return None
    return Value(sign * value.coeff, value.radicand, value.pi_power, value.decimal)


def _quotient(text: str) -> Value | None:
    """``\\frac{A}{B}``, ``A/B`` or a product ``A``."""
    m = _FRAC.match(text)
    if m is not None:
        num, rest = _group(text, m.end())
        den, rest = _group(rest, 0) if num is not None else (None, "")
        if num is None or den is None or rest:
            return None
        top, bottom = _signed(num), _signed(den)
        return _divide(top, bottom) if top is not None and bottom is not None else None
    if text.count("/") == 1:
        top, bottom = text.split("/")
        a, b = _product(top), _product(bottom)
        return _divide(a, b) if a is not None and b is not None else None
    return _product(text)


def _group(text: str, start: int) -> tuple[str | None, str]:
    """``(inside, rest)`` of the balanced ``{...}`` at ``start``, or a single digit (``\\frac12``)."""
    if start < len(text) and text[start].isdigit():
        return text[start], text[start + 1 :]
    if start >= len(text) or text[start] != "{":
        return None, ""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i], text[i + 1 :]
    return None, ""


def _product(text: str) -> Value | None:
    """``[number][\\sqrt{n}][\\pi]`` in any order, each at most once, at least one."""
    coeff, radicand, pi_power, decimal, seen = Fraction(1), 1, 0, False, set()
    i = 0
    while i < len(text):
        m = _DECIMAL.match(text, i)
        kind = "number"
        if m is None:
            m, kind = _SQRT.match(text, i), "sqrt"
        if m is None:
            m, kind = _PI.match(text, i), "pi"
        if m is None or kind in seen:
            return None
        seen.add(kind)
        if kind == "number":
            digits = m.group().replace(".", "").lstrip("0")
            if len(digits) > _MAX_DIGITS:
                return None
            coeff, decimal = coeff * Fraction(m.group()), "." in m.group()
        elif kind == "sqrt":
            n = int(m.group(1) or m.group(2))
            if n > _MAX_RADICAND:
                return None
            outside, radicand = _square_free(n)
            coeff *= outside
        else:
            pi_power = 1
        i = m.end()
    return Value(coeff, radicand, pi_power, decimal) if seen else None


def _square_free(n: int) -> tuple[int, int]:
    """``(a, b)`` with ``n = a*a*b`` and ``b`` square-free (``sqrt(0)`` is ``(0, 1)``)."""
    if n == 0:
        return 0, 1
    outside, f = 1, 2
    while f * f <= n:
        while n % (f * f) == 0:
            n //= f * f
            outside *= f
        f += 1
    return outside, n


def _divide(a: Value, b: Value) -> Value | None:
    """``a / b`` in canonical form.

    Why no ``_square_free`` here: both radicands are square-free already, and trial division of their product (up to
    1e16) ran for seconds on the event loop (``\\frac{\\sqrt{99999989}}{\\sqrt{99999971}}``: 11 s, every other reward
    call blocked). With ``g = gcd(ra, rb)``, ``ra/g`` and ``rb/g`` are coprime and square-free, so
    ``sqrt(ra*rb) = g * sqrt((ra/g) * (rb/g))`` is canonical: two gcd steps, whatever the size."""
    if b.coeff == 0:
        return None
    # a/b = (ca/cb) * sqrt(ra)/sqrt(rb) = (ca/(cb*rb)) * sqrt(ra*rb)
    g = math.gcd(a.radicand, b.radicand)
    outside, radicand = g, (a.radicand // g) * (b.radicand // g)
    coeff = a.coeff / (b.coeff * b.radicand) * outside
    return Value(coeff, radicand, a.pi_power - b.pi_power, a.decimal or b.decimal)


def compare(gold: Value, answer: Value) -> bool | None:
    """``True`` / ``False`` where math-verify would certainly say the same, else ``None`` (ask math-verify).

    Exact forms (no decimal point) are equal exactly when their canonical forms are: math-verify compares such
    numbers symbolically, never within a tolerance. A decimal is compared by math-verify after rounding to 6
    places (``0.333333`` equals ``1/3``): here an exactly equal value is equal, a clearly different one (relative
    difference over 1e-4) is not, and anything in between is left to math-verify."""
    if not (gold.decimal or answer.decimal):
        return gold.key() == answer.key()
    if gold.key() == answer.key():
        return True
    g, a = gold.as_float(), answer.as_float()
    if abs(g - a) > 1e-4 * max(1.0, abs(g), abs(a)):
        return False
    return None
