"""math-verify worker process: one JSON request per stdin line, one JSON reply per stdout line.

Run as a script by ``math_pool.MathVerifyPool`` (not imported). Why a process: math-verify's own timeouts use
``signal.alarm`` (main thread only; they raise ``ValueError`` in the reward loop's threads) and sympy can spin for
hours on ``9^{9^{9^9}}`` inside C code that no signal interrupts. Here both timeouts are off and the parent kills
this process when a check overruns its deadline. EOF on stdin (parent gone) ends the worker.
"""

import json
import logging
import sys

logging.disable(logging.WARNING)  # math-verify warns on every call that its timeouts are disabled: we know

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify  # noqa: E402

GOLD_CONFIG = [LatexExtractionConfig(), ExprExtractionConfig()]
PRED_CONFIG = [LatexExtractionConfig(), ExprExtractionConfig()]
_gold_cache = {}


def _wrap(answer):
    """Answers arrive already extracted; boxing makes math-verify read exactly that one answer."""
    return "\\boxed{" + answer + "}"


def _parse_gold(gold):
    parsed = _gold_cache.get(gold)
    if parsed is None:
        parsed = parse(_wrap(gold), extraction_config=GOLD_CONFIG, parsing_timeout=None, raise_on_error=False)
        if len(_gold_cache) > 4096:
            _gold_cache.clear()
        _gold_cache[gold] = parsed
    return parsed


def handle(request):
    gold = _parse_gold(request["gold"])
    if not gold:
        return {"equal": False, "reason": "gold_unparseable"}
    pred = parse(_wrap(request["pred"]), extraction_config=PRED_CONFIG, parsing_timeout=None, raise_on_error=False)
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
