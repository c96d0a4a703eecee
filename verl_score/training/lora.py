"""Start-up checks of a LoRA run (``actor_rollout_ref.model.lora_rank > 0``), for the trainer and the dry run alike.

verl 0.9.1's FSDP engine builds its adapter from the flat keys ``actor_rollout_ref.model.lora_rank`` /
``lora_alpha`` / ``target_modules`` / ``exclude_modules`` (``workers/engine/fsdp/transformer_impl.py::
_build_lora_module``: a plain ``peft.LoraConfig``, ``bias="none"``); ``model.lora.*`` is Megatron's block, except
``model.lora.merge`` (adapter or merged weight sync), which every engine reads. With a LoRA rank the trainer makes the
reference policy the actor with its adapter disabled (``ref_in_actor``, no second model).

What is refused, each naming the key and the fix (never a silent fallback that changes the numbers):

* a rank that is not a positive integer, or larger than ``min(in, out)`` of a targeted layer; a non-positive alpha;
* ``target_modules`` entries that name no module of the model, or match layers that are not ``nn.Linear``, or a
  tied weight (checked on a meta-device skeleton built from the checkpoint's ``config.json``; no weights are read);
* a rollout backend that cannot take adapters (verl's LoRA rollouts are SGLang and vLLM; ours is ``hfcpu``), and the
  settings each of them cannot serve: SGLang no regex ``target_modules``, vLLM ranks above 512, ``hfcpu`` in adapter
  mode needs the base weights from the actor (``rollout.load_format=dummy``, no ``layered_summon``);
* ``model.lora.rank`` (Megatron's key) on an FSDP actor: verl's trainer would take it as "LoRA on" and compute the
  reference with an adapter that the FSDP engine never built.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from verl_score.contracts.cfg import config_get, to_plain
from verl_score.contracts.lora import lora_rank_of, lora_spec, model_lora_config

__all__ = ["ADAPTER_ROLLOUTS", "check_lora", "lora_rank_of", "model_lora_config"]

#: rollout backends that serve a LoRA adapter (verl: sglang / vllm, each with its own adapter support; ours: hfcpu)
ADAPTER_ROLLOUTS = ("hfcpu", "sglang", "vllm")
#: vLLM's largest ``max_lora_rank`` (``verl.workers.rollout.vllm_rollout.utils.get_vllm_max_lora_rank``)
VLLM_MAX_LORA_RANK = 512


def check_lora(cfg: Any, *, model: Any = None) -> list[str]:
    """Refuse a LoRA config that does not fit the model or the rollout backend (module docstring). ``model``: an
    ``nn.Module`` to check against (default: a meta-device skeleton from ``actor_rollout_ref.model.path`` when that
    is a local checkpoint). Returns the checked paths (empty when LoRA is off)."""
    arr = cfg.actor_rollout_ref
    mcfg = arr.model
    strategy = str(config_get(arr.actor, "strategy", "fsdp"))
    megatron_rank = config_get(config_get(mcfg, "lora", {}), "rank", 0) or 0
    raw_rank = config_get(mcfg, "lora_rank", 0)
    if strategy.startswith("fsdp") and megatron_rank and not raw_rank:
        raise ValueError(
            f"actor_rollout_ref.model.lora.rank={megatron_rank} is Megatron's LoRA key; the FSDP actor "
            f"(actor.strategy={strategy}) would build no adapter while verl's trainer computes the reference as the "
            "actor with its adapter disabled. Fix: actor_rollout_ref.model.lora_rank=<rank> (LORA_RANK=<rank> in the "
            "launchers) and leave model.lora.rank at 0"
        )
    adapter_path = config_get(mcfg, "lora_adapter_path", None)
    if adapter_path is not None:
        # verl sets ref_in_actor for any adapter path. With lora_rank 0 its FSDP engine loads no adapter and the first
        # reference pass calls disable_adapter() on a plain model (a crash after the first rollout); with a rank, the
        # reference becomes the base model WITHOUT the pre-trained adapter while the policy starts with it, so SCoRe's
        # KL terms would anchor to a model that is not the initial policy.
        raise ValueError(
            f"actor_rollout_ref.model.lora_adapter_path={adapter_path!r}: verl would compute the reference policy as "
            "the base model without this adapter (lora_rank > 0) or crash on its first reference pass (lora_rank 0), "
            "so the KL terms would not anchor to the initial policy. Fix: merge the adapter into the model "
            "(peft merge_and_unload, save_pretrained) and pass that as actor_rollout_ref.model.path"
        )
    if raw_rank in (None, 0):
        return []
    if isinstance(raw_rank, bool) or not isinstance(raw_rank, int) or raw_rank < 0:
        raise ValueError(
            f"actor_rollout_ref.model.lora_rank={raw_rank!r}: the LoRA rank must be a positive integer "
            "(LORA_RANK=8, 16, 32 ...), or 0 for full fine-tuning"
        )
    alpha = config_get(mcfg, "lora_alpha", 16)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
        raise ValueError(f"actor_rollout_ref.model.lora_alpha={alpha!r} must be a positive number (LORA_ALPHA)")
    merge = bool(config_get(config_get(mcfg, "lora", {}), "merge", False))
    rollout = arr.rollout
    name = str(config_get(rollout, "name", ""))
    if name not in ADAPTER_ROLLOUTS:
        raise ValueError(
            f"actor_rollout_ref.rollout.name={name!r} cannot take LoRA weights from verl's trainer; the backends that "
            f"can are {ADAPTER_ROLLOUTS}. Fix: actor_rollout_ref.rollout.name=sglang or vllm on GPU (ROLLOUT=...), "
            "hfcpu on CPU, or LORA_RANK=0 / actor_rollout_ref.model.lora_rank=0"
        )
    target_modules = to_plain(config_get(mcfg, "target_modules", "all-linear"))
    correction = config_get(config_get(cfg, "algorithm", None), "rollout_correction", None)
    bypass = bool(config_get(correction, "bypass_mode", False))
    if merge and name == "hfcpu" and str(config_get(rollout, "dtype", "bfloat16")) in ("float32", "fp32") and bypass:
        raise ValueError(
            "actor_rollout_ref.model.lora.merge=True on an fp32 hfcpu rollout with "
            "algorithm.rollout_correction.bypass_mode=True: verl casts the merged weights to bf16 before the sync, so "
            "the rollout's log-probs (used as the PPO old log-probs in bypass mode) would come from other weights than "
            "the actor's. Fix: actor_rollout_ref.model.lora.merge=False (adapter mode, exact; what LORA_RANK sets)"
        )
    if not merge:  # adapter mode: each engine's own LoRA support serves the adapter
        if name == "hfcpu":
            load_format = str(config_get(rollout, "load_format", "dummy"))
            if "dummy" not in load_format:
                raise ValueError(
                    f"actor_rollout_ref.rollout.load_format={load_format!r} with LoRA in adapter mode on hfcpu: verl "
                    "would never send the base weights that hfcpu merges each adapter into. Fix: "
                    "actor_rollout_ref.rollout.load_format=dummy (the default)"
                )
            if config_get(rollout, "layered_summon", False):
                raise ValueError(
                    "actor_rollout_ref.rollout.layered_summon=True needs a base model preloaded by the rollout; hfcpu "
                    "takes it from the actor. Fix: actor_rollout_ref.rollout.layered_summon=False"
                )
        elif name == "sglang" and isinstance(target_modules, str) and target_modules != "all-linear":
            raise ValueError(
                f"actor_rollout_ref.model.target_modules={target_modules!r}: SGLang serves LoRA on all linear layers "
                "or on a list of module names, not a regex. Fix: target_modules=all-linear or a list "
                "([q_proj,v_proj,...])"
            )
        elif name == "vllm" and raw_rank > VLLM_MAX_LORA_RANK:
            raise ValueError(
                f"actor_rollout_ref.model.lora_rank={raw_rank}: vLLM serves LoRA ranks up to {VLLM_MAX_LORA_RANK}. "
                "Fix: a smaller LORA_RANK, or actor_rollout_ref.model.lora.merge=True"
            )
    if model is None:
        model = _meta_model(str(config_get(mcfg, "path", "")))
    if model is not None:
        lora_spec(model, model_lora_config(mcfg))  # rank vs layer shapes, names, Linear only, no tied weight
        return ["actor_rollout_ref.model.lora_rank", "actor_rollout_ref.model.target_modules"]
    return ["actor_rollout_ref.model.lora_rank"]


def _meta_model(path: str):
    """The model's module tree on the meta device, from ``config.json`` alone (no weights read); None, with a note on
    stderr, when ``path`` is not a local checkpoint (a hub id on a machine without the hub)."""
    if not (Path(path) / "config.json").is_file():
        print(
            f"config_check: LoRA target modules not checked against the model: {path!r} is not a local checkpoint "
            "(the rollout and verl's peft check them at start-up)",
            file=sys.stderr,
        )
        return None
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(path)
    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)
