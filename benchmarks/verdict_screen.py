"""How well the SMART verdict screen holds: rejection rate on verdicts, false-rejection rate on genuine hints.

    python -m benchmarks.verdict_screen                       # the rules (no model, < 1 s)
    python -m benchmarks.verdict_screen --failures            # ... and every misclassified text
    python -m benchmarks.verdict_screen --classifier smollm2  # + the YES/NO classifier, SmolLM2-135M via xllamacpp
    python -m benchmarks.verdict_screen --classifier http://host:port/v1 [--model NAME]   # + any endpoint

Corpus: testkit/verdict_corpus.py (must-reject texts: verdicts in many phrasings, praise, hedges, partial
verdicts, other languages, real SmolLM2 guide replies; must-pass texts: re-check hints). Each split is reported on
its own: ``dev`` was written before/while the rules were tuned, each ``heldout`` split after a rules version froze
and never tuned on at that version. The screen is ``LeakageFilter.check_format`` (the reference-free rules, which is
what ``SmartGuidance.instruction`` runs); "rejected" means any rule fired, and the reasons are counted.

With ``--classifier`` every text is also sent to the classifier (whatever the rules said), so its own rates are
measured, and the combined screen (rules, then the classifier on what they pass -- the production order) is shown.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from testkit.verdict_corpus import PASS, REJECT, Item  # noqa: E402
from verl_score.teacher.leakage import LeakageFilter  # noqa: E402


def _pct(k: int, n: int) -> str:
    return f"{k}/{n} = {100 * k / n:5.1f}%" if n else "-"


def _table(title: str, rows: dict[str, tuple[int, int]]) -> None:
    print(f"  {title}")
    for key, (k, n) in sorted(rows.items()):
        print(f"    {key:<24} {_pct(k, n)}")


def report(name: str, verdicts: list[Item], hints: list[Item], rejected: dict[str, bool], failures: bool) -> None:
    """Rejection rate on ``verdicts`` and false-rejection rate on ``hints``, overall and by category/language."""
    splits = sorted({i.split for i in verdicts + hints})
    for split in splits + ["all"]:
        vs = [i for i in verdicts if split in ("all", i.split)]
        hs = [i for i in hints if split in ("all", i.split)]
        caught = sum(rejected[i.text] for i in vs)
        wrong = sum(rejected[i.text] for i in hs)
        print(f"\n[{name}] split={split}: verdicts rejected {_pct(caught, len(vs))} | "
              f"hints falsely rejected {_pct(wrong, len(hs))}")
        if split == "all":
            continue
        by_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for i in vs:
            for table, key in ((by_cat, i.category), (by_lang, i.lang)):
                table[key][0] += rejected[i.text]
                table[key][1] += 1
        _table("verdicts rejected, by category:", {k: tuple(v) for k, v in by_cat.items()})  # type: ignore[misc]
        _table("verdicts rejected, by language:", {k: tuple(v) for k, v in by_lang.items()})  # type: ignore[misc]
        hint_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for i in hs:
            hint_cat[i.category][0] += rejected[i.text]
            hint_cat[i.category][1] += 1
        _table("hints falsely rejected, by category:", {k: tuple(v) for k, v in hint_cat.items()})  # type: ignore[misc]
        origin = [i for i in vs + hs if i.origin != "written"]
        if origin:
            ok = sum(rejected[i.text] == (i in vs) for i in origin)
            print(f"  real model text (SmolLM2) classified as labelled: {_pct(ok, len(origin))}")
        if failures:
            for i in vs:
                if not rejected[i.text]:
                    print(f"    LET THROUGH  [{i.category}/{i.lang}] {i.text!r}")
            for i in hs:
                if rejected[i.text]:
                    print(f"    REJECTED     [{i.category}] {i.text!r}")


def rules(failures: bool) -> dict[str, bool]:
    screen = LeakageFilter({"use_math_verify": False})
    texts = [i.text for i in REJECT + PASS]
    start = time.perf_counter()
    verdicts = {t: screen.check_format(t) for t in texts}
    elapsed = time.perf_counter() - start
    rejected = {t: not v.ok for t, v in verdicts.items()}
    print(f"rules: {len(texts)} texts in {elapsed * 1e3:.1f} ms ({elapsed / len(texts) * 1e6:.0f} µs/text)")
    print("rejection reasons on must-reject texts:",
          dict(Counter(verdicts[i.text].reason for i in REJECT if rejected[i.text]).most_common()))
    report("rules", REJECT, PASS, rejected, failures)
    return rejected


async def _classify(base_url: str, model: str | None, api_key: str | None) -> dict[str, str | None]:
    from verl_score.teacher.backends import EndpointBackend
    from verl_score.teacher.verdict_classifier import VerdictClassifier

    client = {"base_url": base_url, "max_retries": 1, "timeout_s": 120, "concurrency": 2}
    if model:
        client["model"] = model
    if api_key:
        client["api_key"] = api_key
    backend = EndpointBackend(client)
    clf = VerdictClassifier({"timeout_s": 120})
    texts = [i.text for i in REJECT + PASS]
    gate = asyncio.Semaphore(2)  # the deadline should time the call, not the wait for a free slot

    async def one(text: str) -> tuple[str, str] | None:
        async with gate:
            return await clf.review(text, backend)

    results = await asyncio.gather(*(one(t) for t in texts))
    await backend.client.aclose()
    return {t: (None if r is None else r[0]) for t, r in zip(texts, results)}


def classifier(target: str, model: str | None, rules_rejected: dict[str, bool], failures: bool) -> None:
    server = None
    api_key = None
    if target == "smollm2":
        from testkit.llamacpp_server import LlamaCppServer

        server = LlamaCppServer(Path(tempfile.mkdtemp()) / "llamacpp.log", threads=1, n_parallel=2).start()
        target, model, api_key = server.base_url, server.model, server.api_key
    try:
        start = time.perf_counter()
        outcome = asyncio.run(_classify(target, model, api_key))
        print(f"\nclassifier at {target} ({model or 'default model'}): {len(outcome)} calls in "
              f"{time.perf_counter() - start:.1f} s; outcomes {dict(Counter(str(v) for v in outcome.values()))}")
    finally:
        if server is not None:
            server.stop()
    alone = {t: v is not None for t, v in outcome.items()}
    report("classifier alone", REJECT, PASS, alone, failures)
    combined = {t: rules_rejected[t] or alone[t] for t in outcome}
    report("rules + classifier", REJECT, PASS, combined, failures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--failures", action="store_true", help="list every misclassified text")
    parser.add_argument("--classifier", metavar="smollm2|BASE_URL", help="also measure the YES/NO classifier")
    parser.add_argument("--model", help="model name for --classifier BASE_URL")
    args = parser.parse_args()
    rejected = rules(args.failures)
    if args.classifier:
        classifier(args.classifier, args.model, rejected, args.failures)


if __name__ == "__main__":
    main()
