"""The eval's default per-attempt budget is the one attempt 1 has in training (it was 1,024 against 1,494).

Recomputed here from what training really does: the response length scripts/run_qwen2.5-7b_score.sh composes and the
real ``score_two_attempt`` agent loop (configs/agent_loops.yaml kwargs, the Qwen2.5 tokenizer and chat template),
whose budget reserves the instruction turn and splits the rest over the attempts."""

from __future__ import annotations

import asyncio

import pytest
import yaml
from transformers import AutoTokenizer

from tests.test_launchers import REPO, _launcher_args
from verl_score import config_check
from verl_score.episodes.two_attempt import ScoreTwoAttemptAgentLoop
from verl_score.episodes.worker_build import build_agent_loop
from verl_score.eval.cli import CODEACT_TURN_TOKENS, TRAIN_ATTEMPT_TOKENS, build_parser, main


def training_attempt1_budget(response_length: int, tokenizer) -> int:
    kwargs = next(e for e in yaml.safe_load((REPO / "configs" / "agent_loops.yaml").read_text())
                  if e["name"] == "score_two_attempt")
    kwargs = {k: v for k, v in kwargs.items() if k not in ("name", "_target_")}

    async def build():
        return build_agent_loop(ScoreTwoAttemptAgentLoop, None, tokenizer, prompt_length=1024,
                                response_length=response_length, **kwargs)

    loop = asyncio.run(build())
    return loop.budget.max_tokens_for(1, used=0)


@pytest.mark.parametrize("task", ["math", "code"])
def test_default_max_tokens_is_trainings_attempt_budget(task, tmp_path, assets):
    entry, args = _launcher_args("run_qwen2.5-7b_score.sh", tmp_path, str(assets["tiny_qwen"]), {"TASK": task})
    response_length = config_check.compose(entry, args).actor_rollout_ref.rollout.response_length
    tokenizer = AutoTokenizer.from_pretrained(assets["qwen_tokenizer"])
    assert training_attempt1_budget(response_length, tokenizer) == TRAIN_ATTEMPT_TOKENS


def test_cli_default_depends_on_the_episode(tmp_path, monkeypatch):
    assert build_parser().parse_args(["--data", "x"]).max_tokens is None  # resolved per episode in main()
    seen = {}

    def stop(args, samples, sampling, temperature, out_dir):
        seen["codeact"] = sampling.max_tokens
        return {}

    monkeypatch.setattr("verl_score.eval.cli._main_codeact", stop)
    monkeypatch.setattr("verl_score.eval.cli.load_samples", lambda *a, **k: [object()])
    main(["--data", "x", "--episode", "codeact"])
    assert seen["codeact"] == CODEACT_TURN_TOKENS

    def engine(args, sampling, guidance_kwargs):
        seen["two_attempt"] = sampling.max_tokens
        raise SystemExit(0)

    monkeypatch.setattr("verl_score.eval.cli.build_engine", engine)
    with pytest.raises(SystemExit):
        main(["--data", "x"])
    assert seen["two_attempt"] == TRAIN_ATTEMPT_TOKENS
