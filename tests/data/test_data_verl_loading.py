"""Every parquet the converter writes loads through verl's own dataset classes with the real Qwen2.5 tokenizer.

RLHFDataset's length filter applies the chat template to every row and *drops* rows it cannot render (it prints
and returns max+1), so ``len(dataset) == rows written`` proves every row renders; items are then read back.
The MPS SFT output goes through MultiTurnSFTDataset, whose ``sanity_check`` asserts that per-turn tokenisation
equals whole-conversation tokenisation; loss must fall on assistant steps only, never on observations.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from data_preprocess.convert_parquet import run

FIXTURES = Path(__file__).resolve().parents[2] / "data_preprocess" / "fixtures"

# source -> one converter argv per input shape. All files of a source are loaded by ONE RLHFDataset (as a user's
# train_files list would be): that also proves files from different input shapes mix (datasets aligns extra_info),
# and keeps the test fast (each RLHFDataset hashes the tokenizer to fingerprint its filter: seconds each).
F = {name: str(FIXTURES / name) for name in ("mbpp.jsonl", "mbpp_sanitized.json", "math500.jsonl", "mps.jsonl")}
CASES: dict[str, list[list[str]]] = {
    "humaneval": [["humaneval"]],
    "gsm8k": [["gsm8k"], ["gsm8k", "--input", str(FIXTURES / "gsm8k.jsonl")]],
    "math": [["math", "--input", str(FIXTURES / "math_tree" / "MATH")], ["math", "--input", F["math500.jsonl"]]],
    "mbpp": [["mbpp", "--input", F["mbpp.jsonl"]], ["mbpp", "--input", F["mbpp_sanitized.json"]]],
    "reasoning_gym": [
        ["reasoning_gym", "--rg-tasks", "gsm_symbolic,basic_arithmetic", "--size", "50", "--test-size", "10"]
    ],
    # shape0: the default SFT/RL split (RL rows); shape1: every trajectory to SFT (for the SFT-dataset test)
    "mps": [["mps", "--input", F["mps.jsonl"]], ["mps", "--input", F["mps.jsonl"], "--sft-fraction", "1"]],
}


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from verl_score.assets import asset_path

    return AutoTokenizer.from_pretrained(asset_path("qwen_tokenizer"))


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("converted")
    for name, argvs in CASES.items():
        for i, argv in enumerate(argvs):
            run([*argv, "--out-dir", str(base / name / f"shape{i}"), "--quiet"])
    return {name: base / name for name in CASES}


def _rl_config(tmp: Path):
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {
            "prompt_key": "prompt",
            "max_prompt_length": 4096,
            "filter_overlong_prompts": True,
            "filter_overlong_prompts_workers": 1,
            "truncation": "error",
            "cache_dir": str(tmp / "verl_cache"),
        }
    )


@pytest.mark.parametrize("name", list(CASES))
def test_rlhf_dataset_loads(name, outputs, tokenizer, tmp_path):
    import pyarrow.parquet as pq
    from verl.utils.dataset.rl_dataset import RLHFDataset

    files = sorted(outputs[name].glob("shape*/*.parquet"))  # every split of every input shape (not sft/)
    assert files, f"{name}: no parquet written"
    written = [row for f in files for row in pq.read_table(f).to_pylist()]
    ds = RLHFDataset([str(f) for f in files], tokenizer, _rl_config(tmp_path))
    assert len(ds) == len(written), f"{name}: verl dropped rows it could not render"
    for i in range(len(ds)):
        item, row = ds[i], written[i]
        assert item["raw_prompt"] == row["prompt"] and item["agent_name"] == row["agent_name"]
        assert item["reward_model"]["ground_truth"] == row["reward_model"]["ground_truth"]
        assert item["index"] == row["extra_info"]["index"] and item["data_source"] == row["data_source"]
        assert item["extra_info"]["task"] == row["ability"]
    text = tokenizer.apply_chat_template(written[0]["prompt"], tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n")
    if written[0]["prompt"][0]["role"] == "system":  # ours replaces Qwen's default system text
        assert "You are Qwen" not in text


def test_mps_sft_loads_in_multiturn_sft_dataset(outputs, tokenizer):
    import pyarrow.parquet as pq
    from omegaconf import OmegaConf
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    path = outputs["mps"] / "shape1" / "sft" / "train.parquet"
    written = pq.read_table(path).to_pylist()
    ds = MultiTurnSFTDataset(str(path), tokenizer, OmegaConf.create({"max_length": 2048, "truncation": "error"}))
    assert len(ds) == len(written) == 7  # all kept, de-duplicated trajectories
    for i in range(len(ds)):
        item = ds[i]  # runs verl's per-turn vs whole-conversation sanity check
        ids, mask = item["input_ids"], item["loss_mask"]
        trained = tokenizer.decode(ids[mask.bool()])
        assert "Thought:" in trained and "Final Answer:" in trained
        assert "Observation:" not in trained  # interpreter output is never a training target
        assert written[i]["problem"].strip() not in trained


@pytest.mark.parametrize("name", [*CASES, "gsm8k_plain"])
def test_one_row_runs_through_its_agent_loop(name, outputs, tokenizer, tmp_path):
    """The row's ``agent_name`` picks the loop from verl's own registry (as verl's worker does) and the loop runs it
    end to end on the tiny CPU model: two-attempt episodes, prefix rollouts (sandbox replay) and plain single turns."""
    import asyncio

    import pyarrow.parquet as pq
    from hydra.utils import instantiate
    from omegaconf import OmegaConf
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap, _agent_loop_registry

    import verl_score.register  # noqa: F401  (what VERL_USE_EXTERNAL_MODULES does in every worker)
    from verl_score.assets import asset_path
    from verl_score.cpu.generator import HFGenerator, LocalServerManager

    if name == "gsm8k_plain":
        run(["gsm8k", "--target", "plain", "--limit", "3", "--out-dir", str(tmp_path / "plain"), "--quiet"])
        files = sorted((tmp_path / "plain").glob("*.parquet"))
    else:
        files = sorted((outputs[name] / "shape0").glob("*.parquet"))
    row = pq.read_table(files[0]).slice(0, 1).to_pylist()[0]
    expected_loop = {"mps": "score_prefix_rollout", "gsm8k_plain": "single_turn_agent"}.get(name, "score_two_attempt")
    assert row["agent_name"] == expected_loop

    cfg = OmegaConf.create({"actor_rollout_ref": {"rollout": {"prompt_length": 4096, "response_length": 192}}, "data": {}})
    extra = {"sandbox": {"timeout_s": 20.0}} if expected_loop == "score_prefix_rollout" else {}
    generator = HFGenerator(str(asset_path("tiny_qwen")), prompt_length=4096, response_length=192, num_threads=1)

    async def episode():
        loop = instantiate(
            OmegaConf.create({**_agent_loop_registry[row["agent_name"]], **extra}),
            trainer_config=DictConfigWrap(cfg),
            server_manager=LocalServerManager(generator),
            tokenizer=tokenizer,
            processor=None,
            dataset_cls=None,
            data_config=DictConfigWrap(cfg.data),
            hf_model_type="qwen2",
        )
        columns = {k: row[k] for k in ("extra_info", "reward_model", "data_source", "ability")}
        return await loop.run({"temperature": 1.0, "top_p": 1.0, "top_k": -1, "logprobs": True},
                              raw_prompt=[dict(m) for m in row["prompt"]], **columns)

    out = asyncio.run(episode())
    assert len(out.response_ids) == len(out.response_mask) > 0 and sum(out.response_mask) > 0
    assert out.prompt_ids and len(out.prompt_ids) <= 4096
    if expected_loop == "score_two_attempt":
        assert out.extra_fields["num_attempts"] == 2 and len(out.extra_fields["attempt_texts"]) == 2
    elif expected_loop == "score_prefix_rollout":
        assert out.extra_fields["step_texts"] and out.extra_fields["stop_reason"]
