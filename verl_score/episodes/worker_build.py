"""Build an agent loop outside verl's ``AgentLoopWorker``, with exactly the arguments that worker passes.

The local eval engines (``eval.engines.LocalEngine``, ``eval.codeact.LocalCodeActEngine``), the episode tests and
``benchmarks/agent_loop_overhead.py`` all run our loops in-process. Each used to spell out the worker's constructor
arguments itself, so a change in what verl passes had to be found and made in every copy; here it is made once.

* ``build_agent_loop``: a loop class constructed directly, with a minimal rollout config (the budgets it reads).
* ``instantiate_agent_loop``: an ``agent_loops.yaml`` entry through ``hydra.utils.instantiate``, the worker's own path
  (the entry's kwargs, and the run's config, decide what the loop gets).
"""

from __future__ import annotations

from typing import Any

__all__ = ["build_agent_loop", "instantiate_agent_loop", "rollout_config"]


def rollout_config(prompt_length: int, response_length: int) -> Any:
    """The smallest trainer config a loop reads: ``actor_rollout_ref.rollout`` budgets and an empty ``data``."""
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {"actor_rollout_ref": {"rollout": {"prompt_length": prompt_length, "response_length": response_length}},
         "data": {}}
    )


def _worker_kwargs(cfg: Any, server_manager: Any, tokenizer: Any, hf_model_type: str) -> dict[str, Any]:
    from verl.experimental.agent_loop.agent_loop import DictConfigWrap

    return {"trainer_config": DictConfigWrap(cfg), "server_manager": server_manager, "tokenizer": tokenizer,
            "processor": None, "dataset_cls": None, "data_config": DictConfigWrap(cfg.data),
            "hf_model_type": hf_model_type}


def build_agent_loop(loop_cls: type, server_manager: Any, tokenizer: Any, *, prompt_length: int,
                     response_length: int, hf_model_type: str = "qwen2", **kwargs: Any) -> Any:
    """``loop_cls`` with verl's constructor arguments and ``rollout_config``; ``kwargs`` are the loop's own
    (an ``agent_loops.yaml`` entry's). Call inside a running event loop where the loop class needs one."""
    cfg = rollout_config(prompt_length, response_length)
    return loop_cls(**_worker_kwargs(cfg, server_manager, tokenizer, hf_model_type), **kwargs)


def instantiate_agent_loop(entry: Any, cfg: Any, server_manager: Any, tokenizer: Any,
                           hf_model_type: str = "qwen2") -> Any:
    """The loop an ``agent_loops.yaml`` ``entry`` names, instantiated as the worker does (no tools) under ``cfg``."""
    import hydra
    from verl.experimental.agent_loop.agent_loop import ToolListWrap

    return hydra.utils.instantiate(config=entry, **_worker_kwargs(cfg, server_manager, tokenizer, hf_model_type),
                                   tools=ToolListWrap([]))
