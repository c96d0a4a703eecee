"""Behaviour, not unit scores: through the real ``main_ppo`` (SCoRe Stage II, α = 10, the real ``score_fn`` with the
config's math route), an answer that hands the question's arithmetic back ("The final answer is 66 + 22.") earns 0
during training, and the policy moves toward the value.

Why: in session 9 naive RL on SmolLM2 learned exactly that copy within 8 steps, because math-verify evaluates what it
parses and so matched the copy to the gold (``verl_score/rewards/unevaluated.py``). Under SCoRe's shaping a flip from
a wrong value to the copy would have paid 1 + α = 11.

The model is ``testkit/copy_or_value_model.py``: the tiny Qwen2 taught to answer one real study-task problem with the
value or the copy, half and half, at each attempt. The data is that row, repeated. What could fail here: the guard not
reaching the route ``score_math.yaml`` gives this data source (``anchored``), or the reward worker; the copy paid like
the value (then every group ties, no advantage, and the value's rate does not move); the value not credited.

Rollouts are not bit-reproducible (the CPU engine draws each request's sampling seed from the global RNG while requests
run concurrently); the threshold on the rate's move is stated with the runs it rests on.
"""

from __future__ import annotations

import asyncio
import json
import pathlib

import pandas as pd
import pytest

from testkit import copy_or_value_model
from tests.cpu.run_utils import read_metrics, run_launcher, tail, tiny_score_overrides

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]  # model build + a 6-step run

PROMPTS, SAMPLES = 8, 4  # 32 episodes a step
STEPS = 6
ATTEMPT_TOKENS = 16  # "The final answer is 66 + 22." is 13 tokens with its <|im_end|>
# 3e-3 (the Stage I test's rate, for one-token attempts) broke the 13-token answers in one step; 5e-4 broke them at
# step 5 of a CI run (session 13: attempt 2 went "The final answer is 888." in 24 of 32 episodes after a step whose
# gradient norm was 9.1 under alpha = 10's advantages of up to +-17, acc@t2 0.81 0.53 0.03): Adam moves every weight
# by about lr a step whatever the gradient's size, which this tiny model does not survive for long
LR = 3e-4


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> pathlib.Path:
    return copy_or_value_model.build(tmp_path_factory.mktemp("copy_or_value_model"))


def _data(tmp: pathlib.Path) -> pathlib.Path:
    """The fixture's problem as a train split (64 rows) and a test split (4 rows), in the study task's schema."""
    row = copy_or_value_model.problem()
    out = tmp / "data"
    out.mkdir()
    for split, n in (("train", 64), ("test", 4)):
        rows = [{**row, "extra_info": {**row["extra_info"], "index": i, "split": split}} for i in range(n)]
        pd.DataFrame(rows).to_parquet(out / f"{split}.parquet")
    return out


@pytest.fixture(scope="module")
def run(tmp_path_factory, model):
    tmp = tmp_path_factory.mktemp("copy_guard")
    env = {"MODEL": str(model), "DATA_DIR": str(_data(tmp)), "STAGE1_STEPS": "0", "STAGE2_STEPS": str(STEPS),
           "EXPERIMENT": "copy_guard", "VERL_FILE_LOGGER_ROOT": str(tmp / "logs")}
    proc, log = run_launcher(
        "run_tiny_score_cpu.sh",
        tmp,
        # two 16-token attempts and the 83-token instruction turn
        *tiny_score_overrides(tmp, PROMPTS, SAMPLES, LR, ATTEMPT_TOKENS, max_response=128),
        f"trainer.rollout_data_dir={tmp / 'rollouts'}",
        "trainer.test_freq=-1",
        env=env,
        timeout=1500,
    )
    assert proc.returncode == 0, tail(log)
    by_step: dict[int, dict] = {}
    for rec in read_metrics(tmp, "verl_score", "copy_guard"):
        by_step.setdefault(rec["step"], {}).update(rec["data"])
    dumps = [json.loads(x) for f in sorted((tmp / "rollouts").glob("*.jsonl"), key=lambda p: int(p.stem))
             for x in f.read_text().splitlines()]
    return [by_step[k] for k in sorted(by_step) if k >= 1], dumps


def _attempts(record: dict) -> list[str]:
    """The two attempts of a dumped episode ("<attempt 1>\\nuser\\n<instruction>\\nassistant\\n<attempt 2>"), each
    classified as exactly the fixture's value string, exactly its copy string, or "other" (anything else: a longer or
    cut-off answer, which the assertions leave alone)."""
    value, copy = copy_or_value_model.value_answer(), copy_or_value_model.copy_answer()
    out = record["output"]
    assert out.count("\nuser\n") == 1 and out.count("\nassistant\n") == 1, out
    parts = (out.split("\nuser\n")[0], out.split("\nassistant\n")[1])
    return ["copy" if p.strip() == copy else "value" if p.strip() == value else "other" for p in parts]


def test_copies_earn_zero_and_values_one_during_training(run):
    """verl's rollout dump records each episode's text and its last attempt's reward (``score``); the first attempt's
    verdicts are read from the step's ``score/acc@t1`` (every episode of a step is in both)."""
    steps, dumps = run
    assert len(dumps) == STEPS * PROMPTS * SAMPLES
    copies = 0
    for step, metrics in enumerate(steps, start=1):
        assert metrics["score/reward_failed_rate"] == 0.0  # acc@t1's denominator is every episode of the step
        recs = [r for r in dumps if r["step"] == step]
        assert len(recs) == PROMPTS * SAMPLES
        kinds = [_attempts(r) for r in recs]
        for rec, (_, k2) in zip(recs, kinds):
            if k2 != "other":  # attempt 2: a copy earns 0 and the value 1
                assert rec["score"] == (1.0 if k2 == "value" else 0.0), rec["output"]
        # attempt 1: every value is among the credited, every copy among the rest
        credited = round(metrics["score/acc@t1"] * len(recs))
        n_value = sum(k1 == "value" for k1, _ in kinds)
        n_copy = sum(k1 == "copy" for k1, _ in kinds)
        assert n_value <= credited <= len(recs) - n_copy, (step, n_value, n_copy, credited)
        copies += sum(k == "copy" for pair in kinds for k in pair)
    # the fixture samples the copy about half the time at the start: the guard was exercised, many times
    assert copies >= 20, copies


def test_the_unguarded_reward_would_have_paid_the_same_copies():
    """The control, on the very strings the run sampled: with ``values_only=False`` math-verify evaluates the copy
    to the gold, so the copy and the value would have tied (no advantage between them)."""
    from verl_score.rewards.math_equiv import MathReward

    gold = copy_or_value_model.problem()["reward_model"]["ground_truth"]
    copy = copy_or_value_model.copy_answer()
    guarded = asyncio.run(MathReward(policy="anchored", workers=1)(copy, gold, {}))
    unguarded = asyncio.run(MathReward(policy="anchored", workers=1, values_only=False)(copy, gold, {}))
    assert (guarded.score, guarded.extra["reason"]) == (0.0, "unevaluated_expression")
    assert unguarded.score == 1.0


def test_the_policy_moves_from_the_copy_to_the_value(run, model):
    steps, dumps = run
    assert [r["score/stage"] for r in steps] == [2.0] * STEPS
    start = copy_or_value_model.start_rates(model)
    late = steps[-2:]  # 64 episodes
    report = {"start": str(start), **{k: [round(r[k], 3) for r in steps]
                                      for k in ("score/acc@t1", "score/acc@t2", "score/reward_failed_rate")}}
    assert all(r["score/reward_failed_rate"] == 0.0 for r in steps), report
    for k, v0, c0 in ((1, start.value_t1, start.copy_t1), (2, start.value_t2, start.copy_t2)):
        rate = sum(r[f"score/acc@t{k}"] for r in late) / len(late)
        # Observed at lr 3e-4, 6 steps, from an exact start of ~0.53 at both attempts (session 13, quiet machine, 6 min
        # a run): t1 0.50 0.56 0.78 0.59 0.75 0.78, t2 0.31 0.59 0.69 0.66 0.75 0.91 (late gains 0.24 / 0.31); t1 0.53
        # 0.66 0.69 0.72 0.88 0.91, t2 0.44 0.66 0.59 0.69 0.75 0.94 (0.36 / 0.31); gradient norms 1.1-4.3. SE of a
        # 64-episode rate <= 0.0625: 0.15 is 2.4 SE above no move and 1.5 SE below the smallest gain seen. A copy paid
        # like the value ties every group: no advantage, no move.
        assert rate - v0 / (v0 + c0) > 0.15, (k, rate, report)
    # and the copies disappear from the samples
    late_copies = sum(k == "copy" for rec in dumps if rec["step"] > STEPS - 2 for k in _attempts(rec)) / 2
    first_copies = sum(k == "copy" for rec in dumps if rec["step"] == 1 for k in _attempts(rec))
    assert late_copies < first_copies, (first_copies, late_copies, report)
