"""LoRA in the ``hfcpu`` rollout: what verl's adapter-mode weight sync sends, and how the server applies it exactly.

verl 0.9.1 with ``actor_rollout_ref.model.lora_rank > 0`` and ``model.lora.merge=False`` (the default) syncs the
rollout in two kinds of calls (``workers/engine_workers.py::update_weights``,
``workers/engine/fsdp/transformer_impl.py::get_per_tensor_param``, ``utils/fsdp_utils.py::collect_lora_params``):

* once, the **base sync** (``base_sync_done=False``, when ``rollout.load_format`` is ``dummy``, the default): every
  base-model tensor, full precision, with the adapter's config. Names are the HF model's, except that
  ``replace_lora_wrapper`` renames the weight (and bias) of every module named like ``q_proj`` ... ``down_proj`` *or*
  matched by the config's ``target_modules`` to ``<module>.base_layer.weight`` — targeted or not (its list of
  "stacked" names is fixed);
* every step, the **adapter sync** (``base_sync_done=True``): only the adapter, as peft's
  ``get_peft_model_state_dict`` names it (``base_model.model.<module>.lora_A.weight`` ``[r, in]`` and
  ``.lora_B.weight`` ``[out, r]``), with ``peft_config`` = ``LoraConfig.to_dict()`` (enums, ``target_modules`` a set
  of names once peft has expanded ``all-linear``).

The server keeps the fp32 base weight ``W0`` of every targeted ``nn.Linear`` from the base sync and, on each adapter
sync, sets that layer's weight to ``W0 + (B @ A) * scaling`` computed in fp32 (peft's own ``merge()`` order, so the
result is bitwise what peft's merge gives in fp32), cast to the rollout dtype. ``scaling`` is ``lora_alpha / r``
(``lora_alpha / sqrt(r)`` with ``use_rslora``). Anything it cannot apply exactly is refused with an error naming it
(DoRA, per-module rank / alpha patterns, LoRA biases, ``fan_in_fan_out``, trained extra modules, targets that are not
``nn.Linear``, mismatched shapes, an adapter before the base).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

import torch

from verl_score.contracts.cfg import config_get, to_plain

__all__ = [
    "LoraSpec",
    "adapter_tensor_key",
    "base_tensor_key",
    "lora_config_from",
    "lora_rank_of",
    "lora_spec",
    "model_lora_config",
]

#: LoraConfig fields that make the layer something other than ``W0 + scaling * B @ A`` (or train tensors the adapter
#: sync does not describe); a truthy value is refused, with the reason.
_INEXACT = {
    "use_dora": "DoRA rescales each output row by a trained magnitude vector",
    "rank_pattern": "per-module ranks",
    "alpha_pattern": "per-module alphas",
    "fan_in_fan_out": "transposed (Conv1D) weights",
    "lora_bias": "a trained LoRA bias",
    "target_parameters": "LoRA on raw nn.Parameters",
    "modules_to_save": "fully trained extra modules",
    "layer_replication": "replicated layers",
    "trainable_token_indices": "trained token embeddings",
    "use_qalora": "QA-LoRA",
    "alora_invocation_tokens": "activated LoRA",
    "use_bdlora": "block-diagonal LoRA",
    "arrow_config": "Arrow routing",
    "kasa_config": "KaSA",
    "monteclora_config": "MonteCLoRA",
    "velora_config": "VeLoRA",
}


def lora_config_from(peft_config: Any):
    """A ``peft.LoraConfig`` from what verl sends (``LoraConfig.to_dict()``, or a LoraConfig); refuses any adapter
    that is not a plain LoRA the rollout can merge exactly."""
    from peft import LoraConfig

    if isinstance(peft_config, LoraConfig):
        config = peft_config
    elif isinstance(peft_config, Mapping):
        peft_type = getattr(peft_config.get("peft_type"), "value", peft_config.get("peft_type"))
        if peft_type not in (None, "LORA"):
            raise ValueError(f"hfcpu applies LoRA adapters only; the actor sent a {peft_type!r} adapter")
        known = {f.name for f in fields(LoraConfig)}
        config = LoraConfig(**{k: v for k, v in peft_config.items() if k in known and k != "peft_type"})
    else:
        raise TypeError(f"peft_config must be a dict (LoraConfig.to_dict()) or a LoraConfig, got {type(peft_config)}")
    bad = [f"{k}={getattr(config, k)!r} ({why})" for k, why in _INEXACT.items() if getattr(config, k, None)]
    if config.bias != "none":
        bad.append(f"bias={config.bias!r} (trained biases)")
    if bad:
        raise ValueError(
            "hfcpu cannot apply this adapter exactly: " + "; ".join(bad) + ". verl's FSDP engine builds plain LoRA "
            "(actor_rollout_ref.model.lora_rank / lora_alpha / target_modules); a pre-trained adapter "
            "(model.lora_adapter_path) must be plain LoRA too, or use actor_rollout_ref.model.lora.merge=True"
        )
    if not isinstance(config.r, int) or config.r <= 0:
        raise ValueError(f"LoRA rank must be a positive integer, got r={config.r!r}")
    return config


@dataclass
class LoraSpec:
    """The adapter the rollout applies: rank, scaling and the targeted ``nn.Linear`` modules (name -> module)."""

    r: int
    lora_alpha: float
    use_rslora: bool
    targets: dict[str, torch.nn.Linear] = field(repr=False)

    @property
    def scaling(self) -> float:
        # peft.tuners.lora.layer.LoraLayer.update_layer
        return self.lora_alpha / (math.sqrt(self.r) if self.use_rslora else self.r)

    def same_adapter(self, other: "LoraSpec") -> bool:
        return (self.r, self.lora_alpha, self.use_rslora, sorted(self.targets)) == (
            other.r, other.lora_alpha, other.use_rslora, sorted(other.targets)
        )


def lora_spec(model: torch.nn.Module, peft_config: Any) -> LoraSpec:
    """The targeted layers of ``model`` under ``peft_config``, matched with peft's own rule
    (``check_target_module_exists``; ``all-linear`` expanded as peft does: every Linear but the output layer)."""
    from peft.tuners.tuners_utils import _maybe_include_all_linear_layers, check_target_module_exists

    config = lora_config_from(peft_config)
    if config.target_modules == "all-linear":
        # peft's expansion reads config.task_type and the model's output embedding; it edits a copy here
        import copy

        config = _maybe_include_all_linear_layers(copy.deepcopy(config), model)
    names = [name for name, _ in model.named_modules() if name]
    if not isinstance(config.target_modules, str):  # peft only needs one entry to match; a typo would go unnoticed
        unknown = [t for t in config.target_modules if not any(n == t or n.endswith(f".{t}") for n in names)]
        if unknown:
            raise ValueError(
                f"LoRA target_modules entries {sorted(unknown)} name no module of the model (its Linear layers are "
                f"named like {_linear_names(model)}). Fix: actor_rollout_ref.model.target_modules=all-linear or "
                "existing names"
            )
    targets: dict[str, torch.nn.Linear] = {}
    wrong: list[str] = []
    for name, module in model.named_modules():
        if not name or not check_target_module_exists(config, name):
            continue
        if type(module) is torch.nn.Linear:
            targets[name] = module
        else:
            wrong.append(f"{name} ({type(module).__name__})")
    if wrong:
        raise ValueError(
            f"LoRA target_modules={_show(config.target_modules)} match modules that are not nn.Linear: {wrong[:3]}; "
            "hfcpu merges LoRA into Linear layers only. Fix: actor_rollout_ref.model.target_modules=all-linear or a "
            "list of Linear module names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)"
        )
    if not targets:
        raise ValueError(
            f"LoRA target_modules={_show(config.target_modules)} match no module of the rollout model. Fix: "
            "actor_rollout_ref.model.target_modules=all-linear or names of its Linear layers"
        )
    shared: dict[int, list[str]] = {}  # tied weights are one Parameter under two names (also on the meta device)
    for pname, param in model.named_parameters(remove_duplicate=False):
        shared.setdefault(id(param), []).append(pname)
    tied = [n for n, m in targets.items() if len(shared.get(id(m.weight), [])) > 1]
    if tied:
        raise ValueError(
            f"LoRA target {tied[0]} shares its weight with {shared[id(targets[tied[0]].weight)]} (tied "
            "embeddings): merging an adapter into it would change the other too. Fix: leave it out of "
            "actor_rollout_ref.model.target_modules (all-linear already does)"
        )
    too_big = [n for n, m in targets.items() if config.r > min(m.in_features, m.out_features)]
    if too_big:
        m = targets[too_big[0]]
        raise ValueError(
            f"LoRA rank r={config.r} exceeds min(in, out)={min(m.in_features, m.out_features)} of {too_big[0]} "
            f"({m.in_features}->{m.out_features}). Fix: a smaller actor_rollout_ref.model.lora_rank"
        )
    return LoraSpec(r=config.r, lora_alpha=float(config.lora_alpha), use_rslora=bool(config.use_rslora), targets=targets)


def _linear_names(model: torch.nn.Module) -> list[str]:
    return sorted({n.rsplit(".", 1)[-1] for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)})


def _show(target_modules: Any) -> str:
    return repr(sorted(target_modules) if isinstance(target_modules, (set, frozenset)) else target_modules)


def base_tensor_key(name: str) -> str:
    """A base-sync name as the rollout model knows it: ``replace_lora_wrapper`` adds ``.base_layer`` before the
    weight / bias of q_proj ... down_proj and of targeted modules."""
    return name.replace(".base_layer.", ".")


def adapter_tensor_key(name: str) -> tuple[str, str]:
    """``(module name, "A" | "B")`` of an adapter-sync tensor (``base_model.model.<module>.lora_A.weight``; an adapter
    name segment such as ``.default`` is tolerated). Any other tensor is an error: the adapter sync carries nothing
    else for a plain LoRA."""
    for kind in ("A", "B"):
        marker = f".lora_{kind}."
        if marker in name and name.endswith(".weight"):
            module = name.split(marker, 1)[0]
            for prefix in ("base_model.model.", "base_model."):
                if module.startswith(prefix):
                    module = module[len(prefix):]
                    break
            return module, kind
    raise ValueError(
        f"adapter sync sent {name!r}, which is not a lora_A / lora_B weight: hfcpu applies plain LoRA only "
        "(no DoRA magnitude, LoRA bias, embedding adapter or trained extra module)"
    )


# ---------------------------------------------------------------- the adapter verl builds from the run config
def lora_rank_of(model_config: Any) -> int:
    """The FSDP rank (``model.lora_rank``); 0 when LoRA is off."""
    return int(config_get(model_config, "lora_rank", 0) or 0)


def model_lora_config(model_config: Any):
    """The ``peft.LoraConfig`` verl's FSDP engine builds from ``actor_rollout_ref.model`` (same fields)."""
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=lora_rank_of(model_config),
        lora_alpha=config_get(model_config, "lora_alpha", 16),
        target_modules=to_plain(config_get(model_config, "target_modules", "all-linear")),
        target_parameters=to_plain(config_get(model_config, "target_parameters", None)),
        exclude_modules=to_plain(config_get(model_config, "exclude_modules", None)),
        bias="none",
    )
