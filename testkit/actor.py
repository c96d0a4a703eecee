"""verl's actor config as the worker builds it, for loss tests and the Stage I coupling benchmark."""

from verl.workers.config import FSDPActorConfig

#: β1 of the paper, verl's actor.kl_loss_coef
BETA1 = 0.01


def actor_config(
    loss_agg_mode: str = "token-mean", kl_loss_type: str = "low_var_kl+", use_kl_loss: bool = True
) -> FSDPActorConfig:
    """verl's actor config as the worker builds it (PPO-clip, token-mean), with the paper's β1 and an unbiased KL."""
    return FSDPActorConfig(
        strategy="fsdp2",
        rollout_n=1,
        ppo_micro_batch_size_per_gpu=1,
        use_kl_loss=use_kl_loss,
        kl_loss_coef=BETA1,
        kl_loss_type=kl_loss_type,
        loss_agg_mode=loss_agg_mode,
    )
