"""Gradient tests of the SCoRe Stage I / II loss on a real tiny Qwen2 model.

Layout of each response (policy tokens have response_mask 1; the instruction and the closing EOS are injected, 0):

    [ attempt 1 tokens | instruction (injected) | attempt 2 tokens | EOS (injected) ]

We differentiate each loss term w.r.t. the per-token logits that produce each response token's log-prob (a leaf), so
"term X puts no gradient through token t" is checked exactly, token by token; and w.r.t. the model's parameters.
"""

from __future__ import annotations

import copy

import pytest
import torch
from tensordict import TensorDict
from verl.utils import tensordict_utils as tu

from verl_score.training.config import ScoreConfig
from verl_score.contracts.keys import LOSS_ATTEMPT_INDEX, STAGE
from verl_score.training.loss import score_loss, score_loss_terms
from testkit.actor import BETA1, actor_config

torch.set_num_threads(1)

BETA2 = 0.1
# attempt_index per response token: 1 = attempt 1, 2 = attempt 2, 0 = injected (instruction / EOS)
ROWS = [
    [1, 1, 1, 1, 0, 0, 0, 2, 2, 2, 2, 0],
    [1, 1, 1, 0, 0, 2, 2, 2, 2, 0],
]
PROMPT_LENS = [5, 4]


@pytest.fixture(scope="module")
def models(assets):
    from transformers import AutoModelForCausalLM

    path = assets["tiny_qwen"]
    policy = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    ref = copy.deepcopy(policy)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # π_ref ≠ π: perturb the reference weights
        for p in ref.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    return policy, ref


@pytest.fixture(scope="module")
def batch(models):
    """Token ids, masks and per-row full-sequence logits of the policy / ref models."""
    policy, ref = models
    gen = torch.Generator().manual_seed(1)
    vocab = policy.config.vocab_size
    rows = []
    for p_len, att in zip(PROMPT_LENS, ROWS, strict=True):
        ids = torch.randint(0, 1000, (p_len + len(att),), generator=gen)
        with torch.no_grad():
            ref_logits = ref(ids.unsqueeze(0)).logits[0]
        rows.append({"ids": ids, "p_len": p_len, "att": torch.tensor(att), "ref_logits": ref_logits})
    assert vocab > 1000
    return rows


def response_logits_leaf(policy, rows) -> tuple[torch.Tensor, torch.Tensor]:
    """Policy logits that predict each response token, as a leaf ``[B, R, V]`` (zero-padded) + response ids."""
    width = max(len(r["att"]) for r in rows)
    with torch.no_grad():
        outs = [policy(r["ids"].unsqueeze(0)).logits[0] for r in rows]
    vocab = outs[0].shape[-1]
    leaf = torch.zeros(len(rows), width, vocab)
    resp = torch.zeros(len(rows), width, dtype=torch.long)
    for b, (r, out) in enumerate(zip(rows, outs, strict=True)):
        n = len(r["att"])
        leaf[b, :n] = out[r["p_len"] - 1 : r["p_len"] - 1 + n]  # logits at position p predict token p+1
        resp[b, :n] = r["ids"][r["p_len"] :]
    return leaf.requires_grad_(True), resp


def padded_fields(rows, resp, leaf):
    width = leaf.shape[1]
    att = torch.zeros(len(rows), width, dtype=torch.long)
    ref_lp = torch.zeros(len(rows), width)
    for b, r in enumerate(rows):
        n = len(r["att"])
        att[b, :n] = r["att"]
        ref_logits = r["ref_logits"][r["p_len"] - 1 : r["p_len"] - 1 + n]
        ref_lp[b, :n] = torch.log_softmax(ref_logits, -1).gather(-1, resp[b, :n, None]).squeeze(-1)
    mask = (att > 0).long()
    # distinct advantages per attempt, and a large bogus one on injected tokens: masks, not zeros, must stop them
    adv = torch.where(att == 1, 0.7, torch.where(att == 2, -1.3, 5.0)).float()
    return att, mask, ref_lp, adv


def log_probs_of(leaf, resp):
    return torch.log_softmax(leaf, -1).gather(-1, resp.unsqueeze(-1)).squeeze(-1)


def per_token_grad_norm(term: torch.Tensor, leaf: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(term, leaf, retain_graph=True, allow_unused=False)
    return g.norm(dim=-1)  # [B, R]


def terms_for(models, batch, stage):
    policy, _ = models
    leaf, resp = response_logits_leaf(policy, batch)
    att, mask, ref_lp, adv = padded_fields(batch, resp, leaf)
    lp = log_probs_of(leaf, resp)
    cfg = actor_config()
    terms = score_loss_terms(lp, lp.detach(), ref_lp, adv, mask, att, stage=stage, config=cfg)
    return terms, leaf, att


def test_stage1_pg_only_on_attempt2_and_beta2_kl_only_on_attempt1(models, batch):
    terms, leaf, att = terms_for(models, batch, stage=1)
    g_pg = per_token_grad_norm(terms["pg"], leaf)
    g_kl1 = per_token_grad_norm(terms["kl_attempt1"], leaf)
    g_kl = per_token_grad_norm(terms["kl_all"], leaf)
    a1, a2, injected = att == 1, att == 2, att == 0
    # policy gradient: exactly zero on attempt-1 tokens, non-zero on every attempt-2 token
    assert torch.all(g_pg[a1] == 0) and torch.all(g_pg[a2] > 0)
    # β2 KL: exactly zero on attempt-2 tokens, non-zero on every attempt-1 token
    assert torch.all(g_kl1[a2] == 0) and torch.all(g_kl1[a1] > 0)
    # β1 KL: every policy token
    assert torch.all(g_kl[a1 | a2] > 0)
    # nothing reaches injected tokens (instruction, EOS) or padding, whatever their advantage
    for g in (g_pg, g_kl1, g_kl):
        assert torch.all(g[injected] == 0)


def test_stage2_pg_reaches_both_attempts_and_no_injected_token(models, batch):
    terms, leaf, att = terms_for(models, batch, stage=2)
    g_pg = per_token_grad_norm(terms["pg"], leaf)
    assert torch.all(g_pg[(att == 1) | (att == 2)] > 0)
    assert torch.all(g_pg[att == 0] == 0)


def nested(rows_of_tensors):
    return torch.nested.as_nested_tensor(rows_of_tensors, layout=torch.jagged)


def verl_batch(rows, resp, leaf, att, mask, ref_lp, adv, stage):
    """A TensorDict shaped like what the actor worker hands ``ppo_loss`` (nested fields + NonTensorData meta)."""
    lens = [len(r["att"]) for r in rows]
    td = TensorDict(
        {
            "prompts": nested([r["ids"][: r["p_len"]] for r in rows]),
            "responses": nested([r["ids"][r["p_len"] :] for r in rows]),
            "response_mask": nested([mask[b, :n] for b, n in enumerate(lens)]),
            "old_log_probs": nested([log_probs_of(leaf, resp).detach()[b, :n] for b, n in enumerate(lens)]),
            "ref_log_prob": nested([ref_lp[b, :n] for b, n in enumerate(lens)]),
            "advantages": nested([adv[b, :n] for b, n in enumerate(lens)]),
            LOSS_ATTEMPT_INDEX: nested([att[b, :n] for b, n in enumerate(lens)]),
        },
        batch_size=len(rows),
    )
    tu.assign_non_tensor(td, dp_size=1, batch_num_tokens=int(mask.sum()), global_batch_size=len(rows))
    if stage is not None:
        tu.assign_non_tensor_data(td, STAGE, stage)
    # model output in verl's no-padding layout: flat over [prompt | response] with a one-token left shift
    lp = log_probs_of(leaf, resp)
    flat = []
    for b, r in enumerate(rows):
        full = torch.zeros(r["p_len"] + lens[b])
        full = torch.cat([full[: r["p_len"] - 1], lp[b, : lens[b]], full[r["p_len"] - 1 + lens[b] :]])
        flat.append(full)
    return td, {"log_probs": torch.cat(flat)}


def full_loss(models, batch, stage, adv_override=None):
    policy, _ = models
    leaf, resp = response_logits_leaf(policy, batch)
    att, mask, ref_lp, adv = padded_fields(batch, resp, leaf)
    if adv_override is not None:
        adv = adv_override(adv, att)
    td, out = verl_batch(batch, resp, leaf, att, mask, ref_lp, adv, stage)
    loss, metrics = score_loss(actor_config(), out, td, score=ScoreConfig(beta2=BETA2))
    return loss, metrics, leaf, att, (resp, mask, ref_lp, adv)


def test_full_loss_is_pg_plus_beta1_kl_plus_beta2_kl_attempt1(models, batch):
    for stage in (1, 2):
        loss, metrics, leaf, att, (resp, mask, ref_lp, adv) = full_loss(models, batch, stage)
        lp = log_probs_of(leaf, resp)
        cfg = actor_config()  # same global normaliser as the worker gives score_loss: all policy tokens
        cfg.global_batch_info.update(
            dp_size=1, batch_num_tokens=int(mask.sum()), global_batch_size=len(batch), loss_scale_factor=None
        )
        t = score_loss_terms(lp, lp.detach(), ref_lp, adv, mask, att, stage=stage, config=cfg)
        expected = t["pg"] + BETA1 * t["kl_all"] + (BETA2 * t["kl_attempt1"] if stage == 1 else 0.0)
        torch.testing.assert_close(loss, expected)
        assert metrics["score/beta2_effective"] == (BETA2 if stage == 1 else 0.0)


def test_stage1_attempt1_advantage_never_matters(models, batch):
    """Stage I: attempt 1 gets KL only, never reward — any attempt-1 advantage gives the same gradient."""

    def with_a1(value):
        return lambda adv, att: torch.where(att == 1, torch.full_like(adv, value), adv)

    grads = {}
    for stage in (1, 2):
        for v in (100.0, -100.0):
            loss, _, leaf, _, _ = full_loss(models, batch, stage, with_a1(v))
            (grads[stage, v],) = torch.autograd.grad(loss, leaf)
    torch.testing.assert_close(grads[1, 100.0], grads[1, -100.0], rtol=0, atol=0)
    assert not torch.allclose(grads[2, 100.0], grads[2, -100.0])


def test_missing_stage_is_an_error_not_a_default(models, batch):
    policy, _ = models
    leaf, resp = response_logits_leaf(policy, batch)
    att, mask, ref_lp, adv = padded_fields(batch, resp, leaf)
    td, out = verl_batch(batch, resp, leaf, att, mask, ref_lp, adv, stage=None)
    with pytest.raises(KeyError, match="score_stage"):
        score_loss(actor_config(), out, td, score=ScoreConfig())


def test_kl_term_carries_gradient_to_model_parameters(models, batch):
    """β2·KL(attempt 1) through the real model: non-zero parameter gradient when π ≠ π_ref, zero when π = π_ref."""
    policy, ref = models
    r = batch[0]
    n = len(r["att"])
    att = r["att"].unsqueeze(0)
    resp = r["ids"][r["p_len"] :].unsqueeze(0)

    def kl_grad_norm(reference) -> float:
        policy.zero_grad(set_to_none=True)
        logits = policy(r["ids"].unsqueeze(0)).logits[:, r["p_len"] - 1 : r["p_len"] - 1 + n]
        lp = log_probs_of(logits, resp)
        with torch.no_grad():
            ref_logits = reference(r["ids"].unsqueeze(0)).logits[:, r["p_len"] - 1 : r["p_len"] - 1 + n]
            ref_lp = log_probs_of(ref_logits, resp)
        t = score_loss_terms(
            lp, lp.detach(), ref_lp, torch.zeros_like(lp), (att > 0).long(), att, stage=1, config=actor_config()
        )
        (BETA2 * t["kl_attempt1"]).backward()
        return sum(float(p.grad.norm()) for p in policy.parameters() if p.grad is not None)

    assert kl_grad_norm(ref) > 1e-6
    assert kl_grad_norm(policy) == 0.0  # π = π_ref: the KL is at its minimum, zero gradient
    policy.zero_grad(set_to_none=True)
