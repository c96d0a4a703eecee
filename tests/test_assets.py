"""verl_score.assets: offline Qwen2.5 tokenizer, tiny random Qwen2, SmolLM2 from GGUF (offline-assets notes 2-4)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from verl_score import assets as A

TRICKY = [
    "Hello, world!",
    "你好，世界！这是一个测试。",
    "emoji 🤖🎉👩‍👩‍👧 and flags 🇫🇷",
    "  leading spaces\n\n\ttabs\r\n   trailing   ",
    "café naïve Ωmega ﬁ",
    "def f(x):\n    return x ** 2  # comment\n",
    "It's, we'll, they've; I'd I'M 12345 3.14159",
    "<|im_start|>user\nhi<|im_end|>\n",
    "",
]


@pytest.fixture(scope="module")
def qwen_tok(assets):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(assets["qwen_tokenizer"])


# ------------------------------------------------------------------ cheap: paths, errors, idempotency (tmp cache)


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("VERL_SCORE_CACHE", str(tmp_path / "c"))
    assert A.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("VERL_SCORE_CACHE")
    assert A.cache_dir().parts[-2:] == (".cache", "verl-score")


@pytest.mark.parametrize("name", A.BUILT_ASSETS)
def test_missing_asset_names_build_command(monkeypatch, tmp_path, name):
    monkeypatch.setenv("VERL_SCORE_CACHE", str(tmp_path))
    with pytest.raises(A.AssetMissingError) as ei:
        A.asset_path(name)
    assert isinstance(ei.value, FileNotFoundError)
    assert f"python -m verl_score.assets build --only {name}" in str(ei.value)


def test_half_built_dir_is_not_complete(monkeypatch, tmp_path):
    monkeypatch.setenv("VERL_SCORE_CACHE", str(tmp_path))
    (tmp_path / "tiny_qwen").mkdir()
    (tmp_path / "tiny_qwen" / "config.json").write_text("{}")  # interrupted build: no manifest
    assert not A.is_built("tiny_qwen")
    with pytest.raises(A.AssetMissingError):
        A.asset_path("tiny_qwen")
    # a manifest from an older recipe version does not count either
    (tmp_path / "tiny_qwen" / A.MANIFEST).write_text(json.dumps({"name": "tiny_qwen", "version": -1}))
    assert not A.is_built("tiny_qwen")


def test_unknown_asset():
    with pytest.raises(ValueError):
        A.asset_path("nope")


def test_gguf_path():
    p = A.asset_path("smollm2_gguf")
    assert p.is_file() and p.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert p.stat().st_size > 90e6


@pytest.fixture
def fake_builders(monkeypatch, tmp_path):
    """Cheap stand-ins for the real builders (those run once per session in the `assets` fixture)."""
    monkeypatch.setenv("VERL_SCORE_CACHE", str(tmp_path))
    calls: list[str] = []

    def fake(name):
        def _b(out):
            calls.append(name)
            (out / "payload.txt").write_text(name)
            return {"fake": True}
        return _b

    monkeypatch.setattr(A, "_BUILDERS", {n: fake(n) for n in A.BUILT_ASSETS})
    return calls


def test_build_atomic_and_idempotent(fake_builders, tmp_path):
    logs: list[str] = []
    paths = A.build(["tiny_qwen"], log=logs.append)  # pulls in its dependency qwen_tokenizer first
    assert fake_builders == ["qwen_tokenizer", "tiny_qwen"]
    assert paths == {"tiny_qwen": tmp_path / "tiny_qwen"}
    assert A.is_built("tiny_qwen") and A.is_built("qwen_tokenizer") and not A.is_built("smollm2")
    assert not list(tmp_path.glob(".*.tmp-*"))  # temp dirs renamed into place
    manifest = json.loads((tmp_path / "tiny_qwen" / A.MANIFEST).read_text())
    assert manifest["version"] == A.ASSET_VERSIONS["tiny_qwen"] and manifest["fake"] is True
    assert any("tiny_qwen: built" in m for m in logs)

    logs.clear()
    t0 = time.perf_counter()
    A.build(["tiny_qwen", "qwen_tokenizer"], log=logs.append)
    assert time.perf_counter() - t0 < 0.5
    assert fake_builders == ["qwen_tokenizer", "tiny_qwen"]  # nothing rebuilt
    assert len(logs) == 2 and all("skipped" in m for m in logs)

    A.build(["tiny_qwen"], force=True, log=logs.append)  # --force rebuilds the asset, not its dependency
    assert fake_builders == ["qwen_tokenizer", "tiny_qwen", "tiny_qwen"]


def test_half_built_dir_is_rebuilt(fake_builders, tmp_path):
    (tmp_path / "qwen_tokenizer").mkdir()
    (tmp_path / "qwen_tokenizer" / "junk").write_text("interrupted")
    A.build(["qwen_tokenizer"], log=lambda m: None)
    assert fake_builders == ["qwen_tokenizer"]
    assert not (tmp_path / "qwen_tokenizer" / "junk").exists()
    assert (tmp_path / "qwen_tokenizer" / "payload.txt").read_text() == "qwen_tokenizer"


def test_failed_build_leaves_nothing(fake_builders, tmp_path, monkeypatch):
    def boom(out):
        (out / "partial").write_text("x")
        raise RuntimeError("boom")

    monkeypatch.setitem(A._BUILDERS, "smollm2", boom)
    with pytest.raises(RuntimeError):
        A.build(["smollm2"], log=lambda m: None)
    assert not (tmp_path / "smollm2").exists() and not list(tmp_path.glob(".smollm2.tmp-*"))
    with pytest.raises(A.AssetMissingError):
        A.asset_path("smollm2")


def test_cli_help_and_skip(assets):
    env_cmd = [sys.executable, "-m", "verl_score.assets", "build", "--only", "qwen_tokenizer"]
    r = subprocess.run(env_cmd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "qwen_tokenizer: present, skipped" in r.stderr


# ------------------------------------------------------------------ tokenizer (§3)


def test_tokenizer_ids(qwen_tok):
    tok = qwen_tok
    assert len(tok) == 151665
    assert tok("Hello, world!").input_ids == [9707, 11, 1879, 0]
    assert tok.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [151643, 151644, 151645]
    assert tok.convert_tokens_to_ids(list(A.QWEN_SPECIAL_TOKENS)) == list(range(151643, 151665))
    assert tok.eos_token == "<|im_end|>" and tok.eos_token_id == 151645
    assert tok.pad_token == "<|endoftext|>" and tok.pad_token_id == 151643
    assert [tok.encode(w) for w in ("system", "user", "assistant", "\n")] == [[8948], [872], [77091], [198]]
    assert tok.model_max_length == 32768


@pytest.mark.parametrize("text", TRICKY)
def test_tokenizer_round_trip(qwen_tok, text):
    ids = qwen_tok.encode(text)
    assert qwen_tok.decode(ids) == text
    assert all(0 <= i < 151665 for i in ids)


def test_special_tokens_not_split(qwen_tok):
    assert qwen_tok.encode("<|im_start|>assistant\n") == [151644, 77091, 198]


def test_chat_template(qwen_tok):
    msgs = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "4"},
    ]
    assert qwen_tok.apply_chat_template(msgs, tokenize=False) == (
        "<|im_start|>system\nYou are terse.<|im_end|>\n"
        "<|im_start|>user\n2+2?<|im_end|>\n"
        "<|im_start|>assistant\n4<|im_end|>\n"
    )
    # default system prompt + generation prompt
    assert qwen_tok.apply_chat_template(msgs[1:2], tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
    )
    ids = qwen_tok.apply_chat_template(msgs[1:2], tokenize=True, add_generation_prompt=True)
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    assert ids[-3:] == [151644, 77091, 198]


def test_chat_template_tools(qwen_tok):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    msgs = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "sunny"},
        {"role": "tool", "content": "20C"},
    ]
    out = qwen_tok.apply_chat_template(msgs, tools=tools, tokenize=False, add_generation_prompt=True)
    assert out.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant."
                          "\n\n# Tools\n")
    assert '<tools>\n{"type": "function", "function": {"name": "get_weather"' in out
    assert ('<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n'
            "</tool_call><|im_end|>\n") in out
    assert ("<|im_start|>user\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\n20C\n</tool_response>"
            "<|im_end|>\n<|im_start|>assistant\n") in out


def test_chat_template_file_is_the_saved_one(assets):
    tmpl = A.qwen2_5_chat_template()
    for name in ("qwen_tokenizer", "tiny_qwen"):
        saved = assets[name] / "chat_template.jinja"
        if saved.exists():
            assert saved.read_text(encoding="utf-8") == tmpl
        else:
            assert json.loads((assets[name] / "tokenizer_config.json").read_text())["chat_template"] == tmpl


# ------------------------------------------------------------------ tiny Qwen2 (§4)


def test_tiny_qwen(assets, qwen_tok):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    d = assets["tiny_qwen"]
    cfg = AutoConfig.from_pretrained(d)
    assert cfg.model_type == "qwen2" and cfg.vocab_size == 151936
    assert cfg.hidden_size // cfg.num_attention_heads == 64  # head_dim, derived (no override)
    assert getattr(cfg, "head_dim", None) in (None, 64)
    assert cfg.eos_token_id == 151645 and cfg.pad_token_id == 151643 and cfg.tie_word_embeddings
    tok = AutoTokenizer.from_pretrained(d)
    assert len(tok) <= cfg.vocab_size and tok.eos_token_id == cfg.eos_token_id
    # transformers 5 may load this dir as Qwen2Tokenizer (config model_type): it must tokenize identically
    assert all(tok.encode(t) == qwen_tok.encode(t) for t in TRICKY)
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
    assert type(model).__name__ == "Qwen2ForCausalLM"
    assert model.model.layers[0].self_attn.head_dim == 64
    n = sum(p.numel() for p in model.parameters())
    assert 15e6 < n < 25e6, n
    ids = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, return_tensors="pt")
    ids = ids["input_ids"] if hasattr(ids, "keys") else ids
    with torch.no_grad():
        logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], 151936) and torch.isfinite(logits).all()
    out = model.generate(ids, max_new_tokens=4, do_sample=False)
    assert out.shape[1] <= ids.shape[1] + 4
    # reproducible: the stored weights are the seeded init
    gen = json.loads((d / "generation_config.json").read_text())
    assert 151645 in (gen["eos_token_id"] if isinstance(gen["eos_token_id"], list) else [gen["eos_token_id"]])


def test_tiny_qwen_is_seeded(assets):
    import torch
    from safetensors.torch import load_file
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(A.TINY_QWEN_SEED)
    fresh = Qwen2ForCausalLM(Qwen2Config(**A.TINY_QWEN_CONFIG))
    stored = load_file(str(assets["tiny_qwen"] / "model.safetensors"))
    w = "model.layers.0.self_attn.q_proj.weight"
    assert torch.equal(stored[w], fresh.state_dict()[w])


# ------------------------------------------------------------------ SmolLM2 (§2)


def test_smollm2_paris(assets):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(1)
    d = assets["smollm2"]
    cfg = json.loads((d / "config.json").read_text())
    assert "quantization_config" not in cfg and cfg["model_type"] == "llama"
    tok = AutoTokenizer.from_pretrained(d)
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|im_end|>" and tok.bos_token == "<|im_start|>"
    assert tok.decode(tok.encode("The capital of France is")) == "The capital of France is"
    model = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32)
    ids = tok("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=6, do_sample=False, pad_token_id=tok.pad_token_id)
    text = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    assert "Paris" in text, text
