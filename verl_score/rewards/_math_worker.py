"""math-verify worker process: one JSON request per stdin line, one JSON reply per stdout line.

Run as a script by ``math_pool.MathVerifyPool`` (not imported). Why a process: math-verify's own timeouts use
``signal.alarm`` (main thread only; they raise ``ValueError`` in the reward loop's threads) and sympy can spin for
hours on ``9^{9^{9^9}}`` inside C code that no signal interrupts. Here both timeouts are off and the parent kills
this process when a check overruns its deadline. EOF on stdin (parent gone) ends the worker.

Equivalence is math-verify's, never weaker than calling it on the same text: a request names the extracted answer
and whether it is one expression (``text: false``: read as ``\\boxed{answer}``, falling back to ``$answer$``) or
prose around a value (``text: true``: math-verify's own extraction searches it, exactly as plain
``parse(answer)`` would).
"""

import json
import logging
import sys

logging.disable(logging.WARNING)  # math-verify warns on every call that its timeouts are disabled: we know

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify  # noqa: E402

CONFIG = [LatexExtractionConfig(), ExprExtractionConfig()]
_DELIMITERS = ("$", "\\boxed", "\\fbox", "\\[", "\\(")
_gold_cache = {}


def _parse(text):
    return parse(text, extraction_config=CONFIG, parsing_timeout=None, raise_on_error=False)


def _parse_expression(answer):
    """One expression: boxing makes math-verify read exactly it; ``$..$`` catches what boxing cannot."""
    boxed = _parse("\\boxed{" + answer + "}")
    return boxed if _has_value(boxed) else (_parse("$" + answer + "$") or boxed)


def _has_value(parsed):
    return any(not isinstance(p, str) for p in parsed)


def _parse_gold(gold):
    parsed = _gold_cache.get(gold)
    if parsed is None:
        # a gold already in latex delimiters is read as written; a bare one as one expression; else as plain text
        parsed = _parse(gold) if any(d in gold for d in _DELIMITERS) else _parse_expression(gold)
        if not _has_value(parsed):
            parsed = _parse(gold)
        if not _has_value(parsed):  # only the raw string survived: a broken gold (a data bug), never "wrong"
            parsed = []
        if len(_gold_cache) > 4096:
            _gold_cache.clear()
        _gold_cache[gold] = parsed
    return parsed


def handle(request):
    gold = _parse_gold(request["gold"])
    if not gold:
        return {"equal": False, "reason": "gold_unparseable"}
    answer = request["pred"]
    pred = _parse(answer) if request.get("text") else _parse_expression(answer)
    if not pred:
        return {"equal": False, "reason": "answer_unparseable"}
    equal = verify(gold, pred, timeout_seconds=None, raise_on_error=False)
    return {"equal": bool(equal), "reason": "ok"}


def main():
    sys.setrecursionlimit(10_000)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        try:
            reply = handle(json.loads(line))
        except Exception as e:  # noqa: BLE001 - report, keep serving
            reply = {"equal": False, "reason": "error", "error": f"{type(e).__name__}: {e}"[:500]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
