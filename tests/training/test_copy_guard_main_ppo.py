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
run concurrently). So the move is measured on the trained weights, not on samples: the run saves its weights at every
step, the FSDP shards of the last two are merged as the study merges them, and ``copy_or_value_model.start_rates``
gives those policies' EXACT probabilities of each attempt string (averaged over the two, as one update can overshoot).
Under the null (the copy paid like the value) the value and the copy tie in every group; only samples that are
neither (paid 0 either way) can carry an advantage, and moving mass from them to both strings alike leaves the
value's probability at or below its start share of value + copy, and the copy's at or above its start.
"""

from __future__ import annotations

import asyncio
import json
import pathlib

import pandas as pd
import pytest

from testkit import copy_or_value_model
from tests.cpu.run_utils import EVERY_STEP_WEIGHTS, merge_actor, read_metrics, run_launcher, tail, tiny_score_overrides

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
        *EVERY_STEP_WEIGHTS,  # for the exact rates of the last two steps' policies
        env=env,
        timeout=1500,
    )
    assert proc.returncode == 0, tail(log)
    trained = [merge_actor(tmp, k, tmp / f"hf_step{k}") for k in (STEPS - 1, STEPS)]
    by_step: dict[int, dict] = {}
    for rec in read_metrics(tmp, "verl_score", "copy_guard"):
        by_step.setdefault(rec["step"], {}).update(rec["data"])
    dumps = [json.loads(x) for f in sorted((tmp / "rollouts").glob("*.jsonl"), key=lambda p: int(p.stem))
             for x in f.read_text().splitlines()]
    return [by_step[k] for k in sorted(by_step) if k >= 1], dumps, trained


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
    steps, dumps, _ = run
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
    steps, _, trained = run
    assert [r["score/stage"] for r in steps] == [2.0] * STEPS
    start = copy_or_value_model.start_rates(model)
    late = [copy_or_value_model.start_rates(d) for d in trained]  # after updates 5 and 6
    report = {"start": str(start), "after updates 5, 6": [str(r) for r in late],
              **{k: [round(r[k], 3) for r in steps] for k in ("score/acc@t1", "score/acc@t2", "actor/grad_norm")}}
    assert all(r["score/reward_failed_rate"] == 0.0 for r in steps), report
    for k in (1, 2):
        v0, c0 = getattr(start, f"value_t{k}"), getattr(start, f"copy_t{k}")
        v = sum(getattr(r, f"value_t{k}") for r in late) / len(late)
        c = sum(getattr(r, f"copy_t{k}") for r in late) / len(late)
        # Exact probabilities, so the only noise is the training run's own; the thresholds are set against the null
        # (module docstring: value at or below its start share, copy at or above its start), not against a typical
        # run. Strings other than the two count against the value, so a policy that left both for a third (the
        # collapse at lr 5e-4) fails. Sampled late rates at this setting (session 13): 0.77-0.89, from ~0.53. Exact,
        # session 14's run: value t1 0.527 -> 0.823 0.856 (start share 0.547), t2 0.522 -> 0.866 0.904 (0.542);
        # copy t1 0.437 -> 0.127 0.099, t2 0.442 -> 0.052 0.024.
        assert v - v0 / (v0 + c0) > 0.15, (k, report)
        # ... and the copy, paid 0, lost probability
        assert c < c0 - 0.1, (k, report)
