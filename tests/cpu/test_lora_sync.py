"""LoRA adapter-mode weight sync into the ``hfcpu`` rollout, on the real SmolLM2-135M-Instruct weights.

The tensors are made by verl's own functions, as its FSDP engine makes them (``collect_lora_params`` +
``replace_lora_wrapper`` for the base sync, ``collect_lora_params(base_sync_done=True)`` = peft's
``get_peft_model_state_dict`` for the adapter, ``LoraConfig.to_dict()`` for ``peft_config``), from a real peft model
whose ``lora_B`` is random and non-zero. The reference is peft's own ``merge_and_unload`` of that model in fp32.
"""

from __future__ import annotations

import copy

import pytest
import torch

from verl_score.cpu.generator import HFGenerator

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

PROMPTS = [
    "<|im_start|>user\nWhat is 7 + 5?<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n",
]


def _peft_model(base, seed: int, **lora_kwargs):
    from peft import LoraConfig, TaskType, get_peft_model

    kwargs = dict(task_type=TaskType.CAUSAL_LM, r=8, lora_alpha=16, target_modules="all-linear", bias="none")
    kwargs.update(lora_kwargs)
    model = get_peft_model(copy.deepcopy(base), LoraConfig(**kwargs))
    _randomise(model, seed)
    return model


def _randomise(peft_model, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:  # peft starts B at 0; a trained adapter has B != 0
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
            elif "lora_A" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.04)


def _base_sync(peft_model):
    """What verl's engine sends with base_sync_done=False (transformer_impl.get_per_tensor_param)."""
    from verl.utils.fsdp_utils import collect_lora_params, replace_lora_wrapper

    config = peft_model.peft_config["default"]
    params = collect_lora_params(module=peft_model, layered_summon=False, base_sync_done=False)
    return {replace_lora_wrapper(k, config): v for k, v in params.items()}, config.to_dict()


def _adapter_sync(peft_model):
    """What verl's engine sends with base_sync_done=True: only lora_A / lora_B, peft's names."""
    from verl.utils.fsdp_utils import collect_lora_params

    params = collect_lora_params(module=peft_model, layered_summon=False, base_sync_done=True)
    return dict(params), peft_model.peft_config["default"].to_dict()


@pytest.fixture(scope="module")
def smollm2(assets):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    path = str(assets["smollm2"])
    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="sdpa").eval()
    return path, base, AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def synced(smollm2):
    """A fp32 hfcpu generator after a base sync and one adapter sync, and the peft model they came from."""
    path, base, tok = smollm2
    peft_model = _peft_model(base, seed=1)
    gen = HFGenerator(path, prompt_length=64, response_length=24, num_threads=1)
    named, cfg = _base_sync(peft_model)
    assert any(".base_layer.weight" in k for k in named)  # the names verl really sends
    gen.load_weights(named, cfg, base_sync_done=False)
    lora, cfg = _adapter_sync(peft_model)
    assert all(".lora_A." in k or ".lora_B." in k for k in lora) and len(lora) == 2 * 7 * 30
    info = gen.load_weights(lora, cfg, base_sync_done=True)
    assert info["mode"] == "adapter"
    return gen, peft_model


def _teacher_forced_logps(model, prompt_ids, token_ids, temperature):
    ids = torch.tensor([prompt_ids + token_ids])
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1].float() / temperature
    return torch.log_softmax(logits, -1).gather(-1, torch.tensor(token_ids)[:, None])[:, 0]


def test_adapter_sync_then_generation_equals_the_merged_fp32_model(smollm2, synced):
    """The issue's test: generation after an adapter-mode sync has the log-probs of peft's merged fp32 model,
    within 1e-4 per token; the base model's are far from them (so the check can fail)."""
    _, base, tok = smollm2
    gen, peft_model = synced
    merged = copy.deepcopy(peft_model).merge_and_unload().eval()
    worst, adapter_effect = 0.0, 0.0
    for i, text in enumerate(PROMPTS):
        prompt = tok(text)["input_ids"]
        out = gen.generate_sync(prompt, {"temperature": 1.0, "seed": 100 + i, "max_tokens": 24}, request_id=str(i))
        assert len(out.token_ids) > 3
        ref = _teacher_forced_logps(merged, prompt, out.token_ids, 1.0)
        worst = max(worst, float((torch.tensor(out.log_probs) - ref).abs().max()))
        adapter_effect = max(adapter_effect, float((_teacher_forced_logps(base, prompt, out.token_ids, 1.0) - ref).abs().max()))
    assert worst < 1e-4, worst
    assert adapter_effect > 1e-2, adapter_effect  # the adapter changes the model: a missing merge would fail above
    # every targeted layer holds exactly what peft's merge computes
    merged_sd = merged.state_dict()
    for name, layer in gen._lora.targets.items():
        assert torch.equal(layer.weight, merged_sd[f"{name}.weight"]), name


def test_each_adapter_sync_starts_from_the_base_weights(smollm2, synced):
    """A second adapter replaces the first (W0 + Δ2, not W0 + Δ1 + Δ2), and the untargeted weights stay the base's."""
    _, base, _ = smollm2
    gen, peft_model = synced
    second = copy.deepcopy(peft_model)
    _randomise(second, seed=2)
    lora, cfg = _adapter_sync(second)
    gen.load_weights(lora, cfg, base_sync_done=True)
    merged_sd = copy.deepcopy(second).merge_and_unload().state_dict()
    own = gen.model.state_dict()
    for k, v in own.items():
        assert torch.equal(v, merged_sd[k]), k
    assert gen.adapter_updates == 2
    # restore the first adapter for the other tests of this module
    gen.load_weights(*_adapter_sync(peft_model), base_sync_done=True)


def test_bf16_rollout_holds_the_fp32_merge_rounded_once(smollm2):
    """In bf16 the served weight is bf16(W0 + Δ computed in fp32): one rounding, not a merge of rounded factors."""
    path, base, _ = smollm2
    peft_model = _peft_model(base, seed=3)
    gen = HFGenerator(path, prompt_length=64, response_length=8, num_threads=1, dtype=torch.bfloat16)
    gen.load_weights(*_base_sync(peft_model), base_sync_done=False)
    gen.load_weights(*_adapter_sync(peft_model), base_sync_done=True)
    merged_sd = copy.deepcopy(peft_model).merge_and_unload().state_dict()
    for k, v in gen.model.state_dict().items():
        assert v.dtype == torch.bfloat16
        assert torch.equal(v, merged_sd[k].to(torch.bfloat16)), k


def test_rslora_scaling_is_applied_exactly(smollm2):
    """use_rslora (scaling alpha / sqrt(r)) is still W0 + s·B·A: applied exactly, checked against peft's merge, on a
    few targets (a list of module names, as verl passes target_modules=[...])."""
    path, base, _ = smollm2
    peft_model = _peft_model(base, seed=4, use_rslora=True, target_modules=["q_proj", "down_proj"], r=4)
    gen = HFGenerator(path, prompt_length=64, response_length=8, num_threads=1)
    gen.load_weights(*_base_sync(peft_model), base_sync_done=False)
    gen.load_weights(*_adapter_sync(peft_model), base_sync_done=True)
    assert len(gen._lora.targets) == 2 * 30
    merged_sd = copy.deepcopy(peft_model).merge_and_unload().state_dict()
    for k, v in gen.model.state_dict().items():
        assert torch.equal(v, merged_sd[k]), k


def test_refusals_leave_the_served_weights_unchanged(smollm2, synced):
    _, base, _ = smollm2
    gen, peft_model = synced
    before = {k: v.clone() for k, v in gen.model.state_dict().items() if "layers.0." in k}
    lora, cfg = _adapter_sync(peft_model)

    # a foreign tensor (DoRA's magnitude vector), an untargeted module, a wrong shape, a missing factor
    bad_key = {**lora, "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector": torch.ones(576)}
    with pytest.raises(ValueError, match="not a lora_A / lora_B weight"):
        gen.load_weights(bad_key, cfg, base_sync_done=True)
    with pytest.raises(ValueError, match="not a LoRA target"):
        gen.load_weights({**lora, "base_model.model.lm_head.lora_A.weight": torch.zeros(8, 576)}, cfg, base_sync_done=True)
    a = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
    with pytest.raises(ValueError, match=r"shape of .*q_proj.lora_A.weight' is \(8, 575\), expected \(8, 576\)"):
        gen.load_weights({**lora, a: torch.zeros(8, 575)}, cfg, base_sync_done=True)
    with pytest.raises(ValueError, match="missing lora_A/B of"):
        gen.load_weights({k: v for k, v in lora.items() if k != a}, cfg, base_sync_done=True)
    # an adapter this backend cannot apply exactly, or another adapter than the base sync announced
    with pytest.raises(ValueError, match="use_dora=True"):
        gen.load_weights(lora, {**cfg, "use_dora": True}, base_sync_done=True)
    with pytest.raises(ValueError, match="rank_pattern"):
        gen.load_weights(lora, {**cfg, "rank_pattern": {"q_proj": 4}}, base_sync_done=True)
    with pytest.raises(ValueError, match="does not match the base sync"):
        gen.load_weights(lora, {**cfg, "lora_alpha": 32}, base_sync_done=True)
    with pytest.raises(ValueError, match=r"entries \['qproj'\] name no module"):
        gen.load_weights(lora, {**cfg, "target_modules": ["qproj", "v_proj"]}, base_sync_done=True)
    for k, v in before.items():
        assert torch.equal(gen.model.state_dict()[k], v), k
    # the engine still serves: no lock left held by a refused update
    assert len(gen.generate_sync([1, 2, 3], {"temperature": 0, "max_tokens": 2}).token_ids) == 2


def test_adapter_before_any_base_sync_is_refused(smollm2):
    path, base, _ = smollm2
    gen = HFGenerator(path, prompt_length=16, response_length=4, num_threads=1)
    lora, cfg = _adapter_sync(_peft_model(base, seed=5))
    with pytest.raises(RuntimeError, match="adapter update before any base sync.*rollout.load_format=dummy"):
        gen.load_weights(lora, cfg, base_sync_done=True)
    # full weights (merged LoRA, full fine-tuning) end the LoRA state: an adapter after them needs a new base sync
    gen.load_weights(*_base_sync(_peft_model(base, seed=5)), base_sync_done=False)
    gen.load_weights(lora, cfg, base_sync_done=True)
    gen.load_weights(base.state_dict())
    with pytest.raises(RuntimeError, match="before any base sync"):
        gen.load_weights(lora, cfg, base_sync_done=True)


def test_merged_mode_is_a_full_update_with_verls_bf16_rounding(smollm2):
    """``model.lora.merge=True``: verl merges, normalises the peft names (``normalize_peft_param_name``) and casts each
    FSDP2 (DTensor) parameter to bf16 (``_merged_lora_per_tensor_param``). hfcpu takes it as a full update, and an fp32
    rollout then serves the bf16-rounded merge, not the merge (docs/cpu.md §4d)."""
    from verl.utils.fsdp_utils import normalize_peft_param_name

    path, base, _ = smollm2
    peft_model = _peft_model(base, seed=6)
    exact = copy.deepcopy(peft_model).merge_and_unload().state_dict()
    peft_model.merge_adapter()
    sent = {k: v.detach().to(torch.bfloat16) for k, v in normalize_peft_param_name(peft_model.state_dict()).items()}
    gen = HFGenerator(path, prompt_length=16, response_length=4, num_threads=1)
    assert gen.load_weights(sent)["mode"] == "full"
    own = gen.model.state_dict()
    for k, v in own.items():
        assert torch.equal(v, exact[k].to(torch.bfloat16).float()), k
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(own[q], exact[q])  # what adapter mode avoids
