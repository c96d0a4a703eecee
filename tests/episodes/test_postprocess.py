"""``attempt_index`` through verl's own v1 post-processing: ``AgentLoopWorkerTQ._agent_loop_postprocess`` (the real
function, run without Ray; only the TransferQueue put is captured), then the trainer's ``to_padded_tensor()``."""

from __future__ import annotations

import pytest
import torch

import verl.trainer.ppo.v1.agent_loop_tq as agent_loop_tq
from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopWorkerTQ
from verl.utils.tensordict_utils import list_of_dict_to_tensordict

from verl_score.contracts.keys import EPISODE_ATTEMPT_INDEX

from tests.episodes.conftest import GREEDY, PROBLEM, CannedServerManager

RESPONSE_LENGTH = 200


def bare_worker(tokenizer):
    """The real v1 worker class (``ray.remote`` unwrapped) with just the state its post-processing reads."""
    cls = AgentLoopWorkerTQ.__ray_actor_class__
    worker = cls.__new__(cls)
    worker.tokenizer = tokenizer
    worker.processor = None
    worker.mm_processor_kwargs = {}
    worker.reward_loop_worker_handles = None  # reward is computed later by the trainer's reward loop
    worker.distillation_enabled = False
    return worker


@pytest.mark.asyncio
async def test_attempt_index_reaches_the_trainer_batch(tokenizer, loop_factory, monkeypatch):
    # Row 0 fills rollout.response_length exactly (an instant engine that never stops), row 1 is the real tiny
    # Qwen2 with short attempts, so the rows are ragged like in training.
    canned = CannedServerManager(tokens=list(range(1000, 1000 + RESPONSE_LENGTH)), stop=None)
    full = await loop_factory(canned, response_length=RESPONSE_LENGTH).run(dict(GREEDY), raw_prompt=PROBLEM)
    short = await loop_factory(response_length=RESPONSE_LENGTH, attempt_max_tokens=8, min_attempt_tokens=8).run(
        {**GREEDY, "ignore_eos": True}, raw_prompt=PROBLEM
    )
    assert len(full.response_ids) == RESPONSE_LENGTH > len(short.response_ids)

    rows, put_tags = [], []
    real_to_td = agent_loop_tq.list_of_dict_to_tensordict

    def capture_rows(dicts):
        rows.extend(dicts)
        return real_to_td(dicts)

    async def capture_put(*, keys, fields, tags: list, partition_id):
        put_tags.extend(tags)
        assert EPISODE_ATTEMPT_INDEX in fields.keys()

    monkeypatch.setattr(agent_loop_tq, "list_of_dict_to_tensordict", capture_rows)
    monkeypatch.setattr(agent_loop_tq.tq, "async_kv_batch_put", capture_put)
    worker = bare_worker(tokenizer)
    for session_id, out in enumerate([full, short]):
        await worker._agent_loop_postprocess(
            out, False, uid="u0", session_id=session_id, global_steps=7, raw_prompt=PROBLEM, index=0
        )

    # What TransferQueue hands the trainer for these keys: verl's own list-of-dicts -> TensorDict (jagged when ragged)
    batch = list_of_dict_to_tensordict(rows)
    assert batch[EPISODE_ATTEMPT_INDEX].is_nested and batch["response_mask"].is_nested
    assert batch[EPISODE_ATTEMPT_INDEX].dtype == torch.int64
    lengths = batch[EPISODE_ATTEMPT_INDEX].offsets().diff().tolist()
    assert lengths == batch["response_mask"].offsets().diff().tolist()
    assert lengths == [len(full.response_ids), len(short.response_ids)]

    padded = batch.to_padded_tensor()  # what the v1 trainer does (e.g. _compute_advantage, _compute_metrics)
    index, mask = padded[EPISODE_ATTEMPT_INDEX], padded["response_mask"]
    assert index.shape == mask.shape == (2, RESPONSE_LENGTH)
    assert torch.equal((index > 0).long(), mask)  # padded with 0 exactly where response_mask is padded
    assert index[1, len(short.response_ids):].eq(0).all()
    assert index[0].tolist() == full.attempt_index
    assert index[1, : len(short.response_ids)].tolist() == short.attempt_index
    assert torch.equal(padded["loss_mask"], mask)  # verl sets loss_mask = response_mask; ours is consistent with it

    # the v1 trainer's staleness tags (blocker 10: int(None) crashed _compute_metrics)
    assert [(t["min_global_steps"], t["max_global_steps"]) for t in put_tags] == [(4, 5), (7, 7)]
    extra = list(batch["extra_fields"])
    assert [len(e["attempt_texts"]) for e in extra] == [2, 2] and all(e["num_attempts"] == 2 for e in extra)
