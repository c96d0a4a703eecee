"""The ``score_sync`` trainer: registration, and its advantage / val-metric steps on TransferQueue-shaped data.

TransferQueue itself is replaced by an in-memory dict with the same ``kv_batch_get`` / ``kv_batch_put`` calls; the
rows are built exactly as ``AgentLoopWorkerTQ`` builds them (``ScoreAgentLoopOutput.as_dict()`` →
``list_of_dict_to_tensordict``), so the fields, jagged tensors and ``extra_fields`` dicts are the real ones.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from tensordict import NonTensorStack, TensorDict
from transfer_queue import KVBatchMeta
from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics
from verl.trainer.ppo.v1 import PPOTrainerSync, get_trainer_cls
from verl.utils.tensordict_utils import list_of_dict_to_tensordict

from verl_score.episodes.output import ScoreAgentLoopOutput
from verl_score.training import trainer as trainer_mod
from verl_score.training.config import ScoreConfig, ShapingConfig
from verl_score.contracts.keys import LOSS_ATTEMPT_INDEX, STAGE
from verl_score.training.trainer import ScoreTrainerSync

torch.set_num_threads(1)


def test_registered_as_score_sync():
    assert get_trainer_cls("score_sync") is ScoreTrainerSync
    assert issubclass(ScoreTrainerSync, PPOTrainerSync)


class FakeTQ:
    """Row store with TransferQueue's kv_batch_get / kv_batch_put semantics (jagged per-token fields)."""

    def __init__(self):
        self.rows: dict[str, dict] = {}

    def put_rows(self, keys, td: TensorDict):
        for i, key in enumerate(keys):
            row = self.rows.setdefault(key, {})
            for name, val in td.items():
                if isinstance(val, torch.Tensor):
                    row[name] = val.unbind()[i] if val.is_nested else val[i]
                else:
                    row[name] = val[i].data if hasattr(val[i], "data") else val[i]

    def kv_batch_put(self, keys, partition_id, fields=None, tags=None):
        self.put_rows(keys, fields)
        return KVBatchMeta(keys=list(keys), tags=[{} for _ in keys], partition_id=partition_id)

    def kv_batch_get(self, keys, partition_id, select_fields):
        out = {}
        for name in select_fields:
            if not all(name in self.rows[k] for k in keys):
                continue
            vals = [self.rows[k][name] for k in keys]
            if isinstance(vals[0], torch.Tensor):
                out[name] = torch.nested.as_nested_tensor(vals, layout=torch.jagged)
            else:
                out[name] = NonTensorStack(*vals)
        return TensorDict(out, batch_size=len(keys))


def episode(att: list[int], r1: float, r2: float) -> dict:
    n = len(att)
    out = ScoreAgentLoopOutput(
        prompt_ids=[1, 2, 3],
        response_ids=list(range(10, 10 + n)),
        response_mask=[int(a > 0) for a in att],
        attempt_index=att,
        num_turns=3,
        metrics=AgentLoopMetrics(),
        extra_fields={
            "attempt_texts": ["x = 1", "x = 2"],
            "reward_extra_info": {"score": r2, "score_t1": r1, "score_t2": r2},
            "min_global_steps": 0,
            "max_global_steps": 0,
        },
    )
    out.reward_score = r2
    return out.as_dict()


ATTS = [[1, 1, 0, 2, 2, 0], [1, 1, 1, 0, 2, 0], [1, 0, 2, 2, 2, 2, 0], [1, 1, 0, 2, 0]]
R1 = [0.0, 1.0, 0.0, 1.0]
R2 = [1.0, 1.0, 0.0, 0.0]


@pytest.fixture
def setup(monkeypatch):
    fake = FakeTQ()
    monkeypatch.setattr(trainer_mod, "tq", fake)
    keys = ["u0_0_0", "u0_1_0", "u1_0_0", "u1_1_0"]
    uids = ["u0", "u0", "u1", "u1"]
    for key, uid, att, r1, r2 in zip(keys, uids, ATTS, R1, R2, strict=True):
        row = episode(att, r1, r2)
        row["uid"] = uid
        row["old_log_probs"] = torch.zeros(len(att))
        fake.put_rows([key], list_of_dict_to_tensordict([row]))
    tr = ScoreTrainerSync.__new__(ScoreTrainerSync)
    tr.config = OmegaConf.create(
        {"algorithm": {"gamma": 1.0, "lam": 1.0, "norm_adv_by_std_in_grpo": True, "adv_estimator": "grpo",
                       "rollout_correction": None}}
    )
    tr.score_cfg = ScoreConfig()
    tr.score_estimator = "grpo"
    batch = KVBatchMeta(keys=keys, tags=[{"status": "success"} for _ in keys], partition_id="train")
    return tr, fake, batch


@pytest.mark.parametrize("stage", [1, 2])
def test_compute_advantage_writes_per_attempt_credit(setup, stage):
    tr, fake, batch = setup
    tr.score_stage = stage
    metrics: dict = {}
    tr._compute_advantage(batch, metrics)
    assert metrics["score/stage"] == stage
    assert metrics["score/reward_t1/mean"] == pytest.approx(np.mean(R1))
    for key, att in zip(batch.keys, ATTS, strict=True):
        row = fake.rows[key]
        att_t = torch.tensor(att)
        assert torch.equal(row[LOSS_ATTEMPT_INDEX], att_t)
        adv = row["advantages"]
        assert adv.shape == att_t.shape and torch.all(adv[att_t == 0] == 0)
        # one value per attempt
        for k in (1, 2):
            assert torch.unique(adv[att_t == k]).numel() == 1
    a = {key: fake.rows[key]["advantages"] for key in batch.keys}
    att = {key: torch.tensor(x) for key, x in zip(batch.keys, ATTS, strict=True)}
    if stage == 1:
        assert all(torch.all(a[k][att[k] == 1] == 0) for k in batch.keys)  # no reward on attempt 1
        # group u1: raw r2 (0, 0) -> zero advantage; group u0: raw r2 (1, 1) -> zero too
        assert all(torch.all(a[k][att[k] == 2] == 0) for k in batch.keys)
    else:
        # group u0 attempt 1: r1 = (0, 1) -> (-0.707, +0.707); attempt 2 shaped: 1+10·1 = 11 vs 1+0 = 1
        assert a["u0_0_0"][0] == pytest.approx(-0.7071, abs=1e-3) and a["u0_1_0"][0] == pytest.approx(0.7071, abs=1e-3)
        assert a["u0_0_0"][3] == pytest.approx(0.7071, abs=1e-3) and a["u0_1_0"][4] == pytest.approx(-0.7071, abs=1e-3)


def test_per_attempt_kl_to_the_reference_is_a_per_token_mean(setup):
    """``score/kl_ref_t{k}/mean``: mean of log π_old − log π_ref over attempt k's policy tokens only (injected
    tokens and the other attempt excluded), so attempt 1's drift is readable on its own."""
    tr, fake, batch = setup
    tr.score_stage = 1
    for key, att in zip(batch.keys, ATTS, strict=True):
        att_t = torch.tensor(att)
        # attempt-1 tokens drifted by 0.1, attempt-2 tokens by 0.5, injected tokens by a value that must not count
        fake.rows[key]["ref_log_prob"] = torch.where(att_t == 1, -0.1, torch.where(att_t == 2, -0.5, -9.0))
    metrics: dict = {}
    tr._compute_advantage(batch, metrics)
    assert metrics["score/kl_ref_t1/mean"] == pytest.approx(0.1)
    assert metrics["score/kl_ref_t2/mean"] == pytest.approx(0.5)


@pytest.mark.parametrize("stage", [1, 2])
def test_advantage_per_attempt_metric_shows_what_the_stage_credits(setup, stage):
    tr, _, batch = setup
    tr.score_stage = stage
    tr.score_cfg = ScoreConfig(shaping=ShapingConfig(kwargs={"alpha": 0.0}))  # raw rewards: group u0's attempt 2 (1, 1) ties, u1's (0, 0)
    metrics: dict = {}
    tr._compute_advantage(batch, metrics)
    assert metrics["score/advantage_abs_t2/mean"] == 0.0  # every attempt-2 group tied
    if stage == 1:
        assert metrics["score/advantage_abs_t1/mean"] == 0.0  # attempt 1 is never credited in Stage I
    else:
        assert metrics["score/advantage_abs_t1/mean"] > 0.5  # r1 (0, 1) and (0, 1) split both groups


def test_no_reference_log_probs_no_kl_metric(setup):
    tr, _, batch = setup
    tr.score_stage = 2
    metrics: dict = {}
    tr._compute_advantage(batch, metrics)
    assert not any(k.startswith("score/kl_ref_") for k in metrics)


def test_padding_rows_get_no_credit(setup):
    tr, fake, batch = setup
    tr.score_stage = 2
    # verl's upsample_batch_to_divisible_size: a copy of a real row with a 1-token response, tagged is_padding
    pad = {k: v for k, v in fake.rows["u0_0_0"].items()}
    pad.update(responses=torch.tensor([0]), response_mask=torch.tensor([0]), old_log_probs=torch.zeros(1))
    fake.rows["pad_0_0"] = pad
    batch = KVBatchMeta(keys=batch.keys + ["pad_0_0"], tags=batch.tags + [{"is_padding": True}], partition_id="train")
    tr._compute_advantage(batch, {})
    assert torch.all(fake.rows["pad_0_0"]["advantages"] == 0)
    assert fake.rows["u0_0_0"]["advantages"][0] == pytest.approx(-0.7071, abs=1e-3)  # group stats exclude padding


def test_missing_attempt_index_is_an_error(setup):
    tr, fake, batch = setup
    tr.score_stage = 2
    for row in fake.rows.values():
        row.pop("attempt_index")
    with pytest.raises(KeyError, match="score_two_attempt"):
        tr._compute_advantage(batch, {})


def test_val_metrics_include_transition_rates():
    tr = ScoreTrainerSync.__new__(ScoreTrainerSync)
    tr.score_cfg = ScoreConfig()
    info = {"reward": [1.0, 0.0, 1.0, 0.0], "score_t1": [0.0, 1.0, 1.0, 0.0], "score_t2": [1.0, 0.0, 1.0, 0.0]}
    m = tr._val_metrics_update(["math"] * 4, ["a", "b", "c", "d"], info, [3, 3, 3, 3])
    assert m["val-core/math/score/acc@t1"] == 0.5 and m["val-core/math/score/acc@t2"] == 0.5
    assert m["val-core/math/score/delta_i2c_uncond"] == 0.25 and m["val-core/math/score/delta_c2i_uncond"] == 0.25
    assert m["val-core/math/score/fix_rate_i2c_cond"] == 0.5
    assert "val-core/math/score_t1/mean@1" in m or any(k.startswith("val-") and "score_t1" in k for k in m)


def test_stage_key_is_stamped_on_the_actor_batch(monkeypatch):
    seen = {}
    monkeypatch.setattr(PPOTrainerSync, "_update_actor", lambda self, b, m: seen.update(b.extra_info) or b)
    tr = ScoreTrainerSync.__new__(ScoreTrainerSync)
    tr.score_stage = 1
    tr._update_actor(KVBatchMeta(keys=[], tags=[], partition_id="train"), {})
    assert seen[STAGE] == 1


def test_multi_output_trajectories_are_refused(setup):
    tr, fake, batch = setup
    tr.score_stage = 2
    fake.rows["u0_0_1"] = dict(fake.rows["u0_0_0"])
    batch = KVBatchMeta(keys=batch.keys + ["u0_0_1"], tags=batch.tags + [{}], partition_id="train")
    with pytest.raises(NotImplementedError, match="one AgentLoopOutput per trajectory"):
        tr._compute_advantage(batch, {})
