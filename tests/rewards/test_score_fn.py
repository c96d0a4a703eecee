"""score_fn.compute_score: routing from YAML, per-attempt scores, and the exact path verl 0.9.1 takes to call it."""

from __future__ import annotations

import asyncio
import textwrap

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from verl_score.metrics import GUIDANCE_REJECTION_REASONS
from verl_score.rewards.score_fn import clear_module_cache, compute_score, resolve_route, score_attempts

ROWS = [  # (response, gold): math and exact_match disagree on the first three
    ("So the probability is \\boxed{\\frac{1}{2}}.", "0.5"),
    ("The final answer is $0.50$. I hope it is correct.", "0.5"),
    ("\\boxed{2\\sqrt{2}}", "\\sqrt{8}"),
    ("\\boxed{7}", "7"),
]

YAML = textwrap.dedent(
    """
    reward:
      custom_reward_function:
        path: pkg://verl_score.rewards.score_fn
        name: compute_score
        reward_kwargs:
          routes: {{competition_math: {module}, humaneval: code_tests}}
          default: math
          modules:
            math: {{workers: 1}}
            code_tests: {{sandbox: {{timeout_s: 5}}}}
    """
)


def _scores(cfg) -> list[float]:
    kwargs = cfg.reward.custom_reward_function.reward_kwargs

    async def go():
        return [await compute_score("competition_math", r, g, {}, **kwargs) for r, g in ROWS]

    return [out["score"] for out in asyncio.run(go())]


def test_swapping_the_module_is_one_yaml_line():
    math_scores = _scores(OmegaConf.create(YAML.format(module="math")))
    exact_scores = _scores(OmegaConf.create(YAML.format(module="exact_match")))
    assert math_scores == [1.0, 1.0, 1.0, 1.0]
    assert exact_scores == [0.0, 0.0, 0.0, 1.0]


def test_attempt_texts_are_scored_separately():
    extra = {"attempt_texts": ["The final answer is $5$. I hope it is correct.", "so \\boxed{6}"], "num_turns": 3}
    out = asyncio.run(compute_score("gsm8k", "<whole decoded response, not used>", "6", extra,
                                    routes={"gsm8k": "math"}, modules={"math": {"workers": 1}}))
    assert out == {"score": 1.0, "acc": 1.0, "reward_failed": 0.0, "answer_found": 1.0,
                   "score_t1": 0.0, "acc_t1": 0.0, "score_t2": 1.0, "acc_t2": 1.0, "failed_t1": 0.0, "failed_t2": 0.0,
                   "guidance_t2_static": 1.0, "guidance_t2_smart": 0.0, "guidance_t2_smart_rejected": 0.0,
                   "guidance_t2_smart_failed": 0.0, "guidance_t2_other": 0.0,
                   # one column per SMART rejection reason (all 0: the instruction was static)
                   **{f"guidance_t2_rejected_{r}": 0.0 for r in GUIDANCE_REJECTION_REASONS}}
    three = asyncio.run(compute_score("gsm8k", "", "6", {"attempt_texts": np.array(["\\boxed{6}", "\\boxed{6}",
                                                                                     "no answer"], dtype=object)},
                                      modules={"math": {"workers": 1}}))
    assert [three[f"score_t{k}"] for k in (1, 2, 3)] == [1.0, 1.0, 0.0] and three["score"] == 0.0


def test_a_k_other_than_the_episodes_is_an_error_not_a_guess():
    """The loop records the K it ran (score.num_attempts) beside the texts; the reward checks it, it does not infer K."""
    ok = asyncio.run(compute_score("gsm8k", "", "6", {"attempt_texts": ["\\boxed{6}"] * 3, "num_attempts": 3},
                                   modules={"math": {"workers": 1}}))
    assert ok["score_t3"] == 1.0
    with pytest.raises(ValueError, match="num_attempts=2 .* 3 attempt texts"):
        asyncio.run(compute_score("gsm8k", "", "6", {"attempt_texts": ["a", "b", "c"], "num_attempts": 2},
                                  modules={"math": {"workers": 1}}))
    # the stand-in rewards of the behaviour tests use the same helpers, so the same check
    from testkit.first_token_reward import compute_score as first_token
    from tests.cpu.varying_score_reward import compute_score as varying

    for fn in (first_token, varying):
        with pytest.raises(ValueError, match="num_attempts=2"):
            fn("d", "", None, {"attempt_texts": ["a"], "num_attempts": 2})
    out = varying("d", "x", None, {"attempt_texts": ["a", "b"], "num_attempts": 2})
    assert set(out) == {"score", "score_t1", "score_t2", "failed_t1", "failed_t2"} and out["score"] == out["score_t2"]


def test_without_attempts_the_solution_is_scored():
    out = asyncio.run(compute_score("gsm8k", "#### 12", "12", None, modules={"math": {"workers": 1}}))
    assert out == {"score": 1.0, "acc": 1.0, "reward_failed": 0.0, "answer_found": 1.0}


def test_output_keys_are_fixed_and_numeric_across_modules():
    """verl builds batch arrays from the FIRST row's keys: every module must produce the same numeric keys."""
    kwargs = {"routes": {"a": "math", "b": "exact_match", "c": "code_tests"},
              "modules": {"math": {"workers": 1}, "code_tests": {"sandbox": {"timeout_s": 5}}}}
    extra = {"attempt_texts": ["x", "y"]}

    async def go():
        return [
            await compute_score("a", "", "1", extra, **kwargs),
            await compute_score("b", "", "1", extra, **kwargs),
            await compute_score("c", "", {"test_list": ["assert f() == 1"]}, extra, **kwargs),
        ]

    outs = asyncio.run(go())
    assert outs[0].keys() == outs[1].keys() == outs[2].keys()
    assert all(isinstance(v, float) for out in outs for v in out.values())


def test_failures_are_counted():
    out = asyncio.run(compute_score("gsm8k", "\\boxed{9^{9^{9^{9}}}}", "3", {},
                                    modules={"math": {"workers": 1, "timeout_s": 1.0}}))
    assert out["reward_failed"] == 1.0 and out["score"] == 0.0


def test_routing_errors_are_clear():
    with pytest.raises(KeyError, match="no reward route"):
        resolve_route("mystery", {"routes": {"gsm8k": "math"}, "default": None})
    with pytest.raises(ValueError, match="unknown reward_kwargs"):
        resolve_route("gsm8k", {"route": {"gsm8k": "math"}})
    with pytest.raises(KeyError, match="unknown reward module"):
        asyncio.run(compute_score("gsm8k", "", "1", {}, routes={"gsm8k": "no_such_module"}))
    name, kwargs = resolve_route("qa", {"routes": {"qa": {"name": "exact_match", "kwargs": {"fallback": "none"}}}})
    assert (name, kwargs) == ("exact_match", {"fallback": "none"})


def test_modules_are_built_once_per_process():
    clear_module_cache()

    async def go():
        await score_attempts("gsm8k", "\\boxed{1}", "1", {}, modules={"math": {"workers": 1}})
        from verl_score.rewards import score_fn

        first = dict(score_fn._MODULES)
        await score_attempts("gsm8k", "\\boxed{2}", "2", {}, modules={"math": {"workers": 1}})
        return first, dict(score_fn._MODULES)

    first, second = asyncio.run(go())
    assert len(first) == 1 and first == second


class _FakeTokenizer:
    def decode(self, ids, skip_special_tokens=True):
        return "".join(chr(int(i)) for i in ids)


def test_through_verls_naive_reward_manager():
    """The real call path: verl's get_custom_reward_fn (reward_kwargs merged in) -> NaiveRewardManager.run_single,
    with the agent loop's extra_fields arriving as ``tool_extra_fields``."""
    from verl import DataProto
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
    from verl.trainer.ppo.reward import get_custom_reward_fn

    cfg = OmegaConf.create(YAML.format(module="math"))
    fn = get_custom_reward_fn(cfg)
    text = "attempt one ... attempt two"
    responses = torch.tensor([[ord(c) for c in text]])
    data = DataProto.from_dict(
        tensors={"responses": responses, "attention_mask": torch.ones_like(responses),
                 "prompts": torch.zeros((1, 0), dtype=torch.long)},
        non_tensors={
            "data_source": np.array(["competition_math"], dtype=object),
            "reward_model": np.array([{"ground_truth": "\\frac{1}{2}"}], dtype=object),
            "extra_info": np.array([{"index": 0}], dtype=object),
            "tool_extra_fields": np.array([{"attempt_texts": ["\\boxed{0.25}", "\\boxed{0.5}"], "num_attempts": 2}],
                                          dtype=object),
        },
    )

    async def go():
        manager = NaiveRewardManager(config=cfg, tokenizer=_FakeTokenizer(), compute_score=fn)
        return await manager.run_single(data)

    out = asyncio.run(go())
    assert out["reward_score"] == 1.0
    info = out["reward_extra_info"]
    assert info["score_t1"] == 0.0 and info["score_t2"] == 1.0 and info["acc"] == 1.0
    assert all(isinstance(v, float) for v in info.values())
