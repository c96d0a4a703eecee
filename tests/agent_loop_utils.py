"""Build an agent loop the way verl's agent-loop worker does (keyword arguments only), for in-process tests."""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf
from verl.experimental.agent_loop.agent_loop import DictConfigWrap


def build_agent_loop(loop_cls: type, server_manager: Any, tokenizer: Any, *, prompt_length: int,
                     response_length: int, **kwargs: Any):
    """``loop_cls`` with verl's constructor arguments and a minimal rollout config; call inside a running loop."""
    cfg = OmegaConf.create(
        {"actor_rollout_ref": {"rollout": {"prompt_length": prompt_length, "response_length": response_length}},
         "data": {}}
    )
    return loop_cls(
        trainer_config=DictConfigWrap(cfg),
        server_manager=server_manager,
        tokenizer=tokenizer,
        processor=None,
        dataset_cls=None,
        data_config=DictConfigWrap(cfg.data),
        hf_model_type="qwen2",
        **kwargs,
    )
