"""The launchers' start-up check of MODEL: a chat model, or one clear line naming the path and what is missing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from verl_score.model_check import ModelCheckError, check_chat_model


def test_bundled_models_pass(assets):
    assert check_chat_model(assets["smollm2"]) == "llama"
    assert check_chat_model(assets["tiny_qwen"]) == "qwen2"


def test_template_in_tokenizer_config_counts(tmp_path, assets):
    model = tmp_path / "m"
    shutil.copytree(assets["tiny_qwen"], model)
    template = (model / "chat_template.jinja").read_text()
    (model / "chat_template.jinja").unlink()
    with pytest.raises(ModelCheckError, match="no chat template"):
        check_chat_model(model)
    cfg = json.loads((model / "tokenizer_config.json").read_text())
    (model / "tokenizer_config.json").write_text(json.dumps({**cfg, "chat_template": template}))
    assert check_chat_model(model) == "qwen2"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such file or directory"),
        (lambda p: p.write_text("x"), "not a directory"),
        (lambda p: p.mkdir(), "no config.json"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text("{")), "config.json is unreadable"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text("{}")), "no tokenizer files"),
    ],
)
def test_bad_paths_name_what_is_missing(tmp_path, make, message):
    path = tmp_path / "model"
    make(path)
    with pytest.raises(ModelCheckError, match=message) as e:
        check_chat_model(path)
    assert str(path) in str(e.value)


def test_cli_exit_2_and_one_line(tmp_path, assets):
    model = tmp_path / "m"
    shutil.copytree(assets["tiny_qwen"], model)
    (model / "chat_template.jinja").unlink()
    proc = subprocess.run([sys.executable, "-m", "verl_score.model_check", str(model)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"error: MODEL={model}: its tokenizer has no chat template")


def test_checkpoint_folder_without_weights_names_the_fix(tmp_path, assets):
    """What verl writes to ``global_step_<N>/huggingface`` when ``hf_model`` is not in save_contents: config,
    tokenizer and chat template, no weights. It used to pass this check and fail later inside verl."""
    model = tmp_path / "global_step_1" / "huggingface"
    shutil.copytree(assets["tiny_qwen"], model)
    for weights in model.glob("*.safetensors"):
        weights.unlink()
    with pytest.raises(ModelCheckError, match="no model weights") as e:
        check_chat_model(model)
    assert "hf_model" in str(e.value) and "verl.model_merger merge" in str(e.value)
    (model / "pytorch_model.bin").write_bytes(b"")  # any weights file transformers reads counts
    assert check_chat_model(model) == "qwen2"
