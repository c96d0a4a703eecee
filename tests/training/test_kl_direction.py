"""KL direction: the SCoRe loss must descend KL(π‖π_ref), with gradient (pitfalls 3 and 4 in score-methods §4).

On a small categorical "policy" p = softmax(θ) and a fixed reference q, every verl ``kl_penalty`` type is evaluated
as the loss sees it — on tokens sampled from π, i.e. the exact on-policy expectation Σ_y sg(p(y))·k(log p(y), log q(y))
— and its value and its θ-gradient are compared with hand-computed KL(p‖q) = Σ p log(p/q) and its exact gradient.
"""

import pytest
import torch
from verl.trainer.ppo.core_algos import kl_penalty

from verl_score.training.config import UNBIASED_KL_GRAD_TYPES, ScoreConfig
from verl_score.training.loss import check_loss_config
from testkit.actor import actor_config

torch.set_num_threads(1)

THETA = torch.tensor([1.2, -0.3, 0.4, -1.0, 0.0], dtype=torch.float64)
Q = torch.softmax(torch.tensor([0.1, 0.5, -0.6, 0.3, 0.8], dtype=torch.float64), 0)


def kl(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * (a.log() - b.log())).sum()


def exact_forward_kl_and_grad():
    theta = THETA.clone().requires_grad_(True)
    p = torch.softmax(theta, 0)
    value = kl(p, Q)  # hand-computed KL(π‖π_ref)
    (grad,) = torch.autograd.grad(value, theta)
    theta2 = THETA.clone().requires_grad_(True)
    (grad_rev,) = torch.autograd.grad(kl(Q, torch.softmax(theta2, 0)), theta2)  # KL(π_ref‖π), the wrong one
    return value.detach(), grad, grad_rev


def on_policy_expectation(kind: str):
    """Σ_y sg(p(y)) · k(log p(y), log q(y)): the exact expected per-token loss under sampling from π."""
    theta = THETA.clone().requires_grad_(True)
    logp = torch.log_softmax(theta, 0)
    k = kl_penalty(logprob=logp, ref_logprob=Q.log(), kl_penalty=kind)
    value = (logp.exp().detach() * k).sum()
    (grad,) = torch.autograd.grad(value, theta)
    return value.detach(), grad


def test_hand_computed_kl_is_direction_sensitive():
    value, grad, grad_rev = exact_forward_kl_and_grad()
    assert value > 0
    assert not torch.allclose(kl(torch.softmax(THETA, 0), Q), kl(Q, torch.softmax(THETA, 0)))
    assert not torch.allclose(grad, grad_rev, atol=1e-3)


@pytest.mark.parametrize("kind", ["low_var_kl+", "k3+", "k1+", "k2", "mse"])
def test_configured_kl_types_descend_kl_pi_to_ref(kind):
    value, grad = on_policy_expectation(kind)
    ref_value, ref_grad, ref_grad_rev = exact_forward_kl_and_grad()
    torch.testing.assert_close(grad, ref_grad)  # ∇ KL(π‖π_ref), exactly in expectation
    assert not torch.allclose(grad, ref_grad_rev, atol=1e-3)
    assert grad.abs().sum() > 0  # carries gradient when π ≠ π_ref
    if kind in ("low_var_kl+", "k3+", "k1+"):
        torch.testing.assert_close(value, ref_value)  # logged value estimates KL(π‖π_ref) itself
    assert kind in UNBIASED_KL_GRAD_TYPES


def test_plain_k3_descends_the_reverse_kl_and_k1_has_no_gradient():
    """Why the SCoRe loss refuses plain low_var_kl / k1 (verl's default kl_loss_type is low_var_kl)."""
    ref_value, ref_grad, ref_grad_rev = exact_forward_kl_and_grad()
    value, grad = on_policy_expectation("low_var_kl")
    torch.testing.assert_close(value, ref_value)  # its *value* is KL(π‖π_ref) ...
    torch.testing.assert_close(grad, ref_grad_rev)  # ... but its gradient is ∇ KL(π_ref‖π)
    value, grad = on_policy_expectation("k1")
    torch.testing.assert_close(value, ref_value)
    torch.testing.assert_close(grad, torch.zeros_like(grad))  # E[∇ log π] = 0


def test_loss_config_check_refuses_biased_kl_types():
    check_loss_config(actor_config(), ScoreConfig())
    for bad in ("low_var_kl", "k3", "k1", "kl"):
        with pytest.raises(ValueError, match="unbiased"):
            check_loss_config(actor_config(kl_loss_type=bad), ScoreConfig())
        check_loss_config(actor_config(kl_loss_type=bad), ScoreConfig(require_unbiased_kl_grad=False))
    with pytest.raises(ValueError, match="use_kl_loss"):
        check_loss_config(actor_config(use_kl_loss=False), ScoreConfig())


def _beta2_token_weights(loss_agg_mode: str) -> torch.Tensor:
    """d(β2 term)/d(log π) per attempt-1 token, for two rows whose attempt 1 has 1 and 4 tokens."""
    from verl_score.training.loss import score_loss_terms

    attempt = torch.tensor([[1, 2, 2, 2, 2], [1, 1, 1, 1, 2]])
    mask = torch.ones_like(attempt)
    log_prob = torch.full(attempt.shape, -1.0, requires_grad=True)
    cfg = actor_config(loss_agg_mode=loss_agg_mode, kl_loss_type="mse")
    cfg.global_batch_info.update(dp_size=1, batch_num_tokens=None, global_batch_size=None, loss_scale_factor=None)
    terms = score_loss_terms(log_prob, log_prob.detach(), torch.full(attempt.shape, -1.5), torch.zeros(attempt.shape),
                             mask, attempt, stage=1, config=cfg)
    terms["kl_attempt1"].backward()
    return log_prob.grad[attempt == 1]


def test_loss_aggregation_that_reweights_the_objective_is_refused():
    """seq-mean-token-mean divides each row's β2 term by that row's attempt-1 length: a token of a one-token attempt 1
    is pulled 4x harder than a token of a four-token one (the other modes weigh every attempt-1 token alike)."""
    for ok in ("token-mean", "seq-mean-token-sum"):
        w = _beta2_token_weights(ok)
        torch.testing.assert_close(w, torch.full_like(w, float(w[0])))
        check_loss_config(actor_config(loss_agg_mode=ok), ScoreConfig())
    w = _beta2_token_weights("seq-mean-token-mean")
    assert float(w[0] / w[1]) == pytest.approx(4.0)
    with pytest.raises(ValueError, match=r"loss_agg_mode='seq-mean-token-mean' is refused: .*β2 term is divided by "
                       r"attempt 1's length.*Fix: use one of"):
        check_loss_config(actor_config(loss_agg_mode="seq-mean-token-mean"), ScoreConfig())
